"""Request checks shared by the servicers: resource names, request ids, pagination, timestamps."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from google.protobuf import timestamp_pb2

from storyloom.api.auth import caller
from storyloom.domain.errors import FieldViolation, InvalidArgument, NotFound
from storyloom.domain.text import clip

_ID = r"[a-z0-9][a-z0-9-]{0,62}"


def resource_id(value: str, collection: str, field: str) -> str:
    """Checks `{collection}/{id}` and returns the id."""
    return resource_path(value, (collection,), field)[0]


def user_parent(value: str, field: str = "parent") -> str:
    """Checks `users/{user}` (where `users/me` is the caller) and returns the caller's id.

    Naming another user answers NOT_FOUND: callers only ever see their own resources.
    """
    return resource_path(value, ("users",), field)[0]


def resource_path(value: str, collections: tuple[str, ...], field: str) -> list[str]:
    """Checks a name like `users/{user}/conversations/{conversation}` (collections
    ("users", "conversations")) and returns its ids, with `users/me` resolved to the caller.

    A name under another user answers NOT_FOUND: callers only ever see their own resources.
    """
    match = _name_pattern(collections).fullmatch(value)
    if not match:
        if not value:
            raise InvalidArgument(FieldViolation(field, "is required"))
        example = "/".join(f"{c}/{{{c[:-1] if c.endswith('s') else c}}}" for c in collections)
        raise InvalidArgument(FieldViolation(field, f"must look like {example}, got {clip(value)}"),
                              reason="RESOURCE_NAME_INVALID")
    ids = list(match.groups())
    if collections[0] == "users":
        me = caller()
        if ids[0] not in ("me", me):
            raise NotFound(value)
        ids[0] = me
    return ids


@functools.cache
def _name_pattern(collections: tuple[str, ...]) -> re.Pattern[str]:
    """The pattern of names under `collections`, compiled once: building it and finding it in re's cache cost more
    than the match, on every call that names a resource. (Few keys: the collections are literals in the code.)"""
    return re.compile("/".join(f"{c}/({_ID})" for c in collections))


def check_request_id(request_id: str, field: str = "request_id") -> str:
    """Checks the request id of a creating call (AIP-155): empty (a call that is not retried) or a UUID in its usual
    form, 8-4-4-4 hexadecimal digits with dashes (any case). Returns it."""
    if request_id:
        try:
            canonical = str(uuid.UUID(request_id)) == request_id.lower()
        except ValueError:
            canonical = False
        if not canonical:
            raise InvalidArgument(FieldViolation(field, "must be a UUID, such as 7d3e3f6a-5c1b-4b8e-9f0a-2c4d6e8f0a1b"),
                                  reason="REQUEST_ID_INVALID")
    return request_id


def page_size(value: int, *, default: int, maximum: int, field: str = "page_size") -> int:
    if value < 0:
        raise InvalidArgument(FieldViolation(field, "must not be negative"))
    return default if value == 0 else min(value, maximum)


class PagedRequest(Protocol):
    """A List request (AIP-158)."""

    @property
    def page_size(self) -> int: ...

    @property
    def page_token(self) -> str: ...


T = TypeVar("T")
# Where a page ends, as a page token holds it: JSON values only.
Position = dict[str, Any]


async def paginate(
    request: PagedRequest, tokens: PageTokens, *, default: int, maximum: int, fingerprint: dict[str, Any],
    fetch: Callable[[int, Position | None], Awaitable[list[T]]], position: Callable[[T], Position],
) -> tuple[list[T], str]:
    """One page of a list and the token of the next one ("" at the end).

    Checks `page_size` (0: `default`, capped at `maximum`, negative: INVALID_ARGUMENT) and `page_token` (it must
    come from a call with the same `fingerprint`: what the request asks for besides the page), then asks `fetch`
    for up to a given number of items after a position (None: from the start). One item more than the page holds
    tells whether another page follows; the next token holds `position` of the page's last item.
    """
    size = page_size(request.page_size, default=default, maximum=maximum)
    after = tokens.decode(request.page_token, fingerprint)
    found = await fetch(size + 1, after)
    if len(found) <= size:
        return found, ""
    found = found[:size]
    return found, tokens.encode(position(found[-1]), fingerprint)


def time_position(time: dt.datetime, item_id: str) -> Position:
    """The position after an item of a list ordered by a time, then by id."""
    return {"t": time.isoformat(), "id": item_id}


def after_time(position: Position | None) -> tuple[dt.datetime, str] | None:
    """The (time, id) cursor a `time_position` stands for."""
    return (dt.datetime.fromisoformat(position["t"]), str(position["id"])) if position else None


_EPOCH = dt.datetime(1970, 1, 1)


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    """`value` as a Timestamp (naive: UTC), as `Timestamp.FromDatetime` makes it. A UTC or naive time, what the stores
    give, is counted from the epoch here: FromDatetime goes through a struct_time and calendar.timegm (3 us a call,
    and every reply, story and task answer has a few)."""
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo is dt.UTC:
        since = value.replace(tzinfo=None) - _EPOCH
        return timestamp_pb2.Timestamp(seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


class PageTokens:
    """Opaque, tamper-proof page tokens (AIP-158).

    A token holds the position after the last item and a fingerprint of the request it
    continues, signed with a server secret: a changed filter or an edited token is refused.
    """

    def __init__(self, secret: bytes):
        self._secret = secret

    def encode(self, position: dict[str, Any], request: dict[str, Any]) -> str:
        body = json.dumps({"p": position, "r": self._fingerprint(request)}, separators=(",", ":")).encode()
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    def decode(self, token: str, request: dict[str, Any], field: str = "page_token") -> dict[str, Any] | None:
        if not token:
            return None
        invalid = InvalidArgument(FieldViolation(field, "is not a token from a previous call with the same request"),
                                  reason="PAGE_TOKEN_INVALID")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise invalid from None
        mac, body = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, hmac.new(self._secret, body, hashlib.sha256).digest()[:16]):
            raise invalid
        data = json.loads(body)
        if data.get("r") != self._fingerprint(request):
            raise invalid
        return dict(data["p"])

    def _fingerprint(self, request: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
