"""HTTP download semantics for streamed HttpBody responses: ETag, If-None-Match, Range, Cache-Control.

The gateway passes a REST caller's request headers as gRPC metadata and the initial metadata sent here back as
response headers. gRPC has no status for "not modified" or "partial content", so a download says which it means
in `x-http-status`, which the gateway turns into the HTTP status of a REST response (request_checks.lua).
"""

from __future__ import annotations

import dataclasses
import re

from storyloom.api.context import Context

# Content-addressed bytes never change under their name: cache them for a year without asking again.
IMMUTABLE = "private, max-age=31536000, immutable"
# A bundle describes a story, which may change or go: keep it, but ask again (If-None-Match) before using it.
REVALIDATE = "private, no-cache"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to send: `status` 200, 206, 304 or 416, and for 200/206 the bytes from `offset` (`limit` 0: all)."""

    status: int
    offset: int = 0
    limit: int = 0


def request_headers(context: Context) -> dict[str, str]:
    return {key.lower(): value for key, value in (context.invocation_metadata() or ())
            if isinstance(value, str)}


def etag_of(sha256: str) -> str:
    return f'"{sha256}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*`, or one of the listed tags, compared weakly."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def plan(headers: dict[str, str], etag: str, size: int) -> Plan:
    """The answer to a GET with these headers of bytes of `size` with `etag`. A Range other than one
    `bytes=a-b`, `bytes=a-` or `bytes=-n` is ignored (the whole file, 200), as RFC 9110 allows; so is one
    whose If-Range names another version."""
    if not_modified(headers.get("if-none-match"), etag):
        return Plan(304)
    value = headers.get("range", "").replace(" ", "")
    if not value or (headers.get("if-range") not in (None, etag)):
        return Plan(200)
    match = _RANGE.match(value)
    if match is None or match.groups() == ("", ""):
        return Plan(200)
    first, last = match.groups()
    if first == "":  # the last n bytes
        suffix = int(last)
        if suffix == 0:
            return Plan(416)
        start, end = max(0, size - suffix), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return Plan(200)
    if start >= size:
        return Plan(416)
    return Plan(206, start, end - start + 1)


async def send_headers(context: Context, answer: Plan, *, etag: str, size: int, cache_control: str,
                       extra: tuple[tuple[str, str], ...] = ()) -> None:
    headers: list[tuple[str, str]] = [("etag", etag), ("cache-control", cache_control), *extra]
    if size >= 0:
        headers.append(("accept-ranges", "bytes"))
    if answer.status == 206:
        headers.append(("content-range", f"bytes {answer.offset}-{answer.offset + answer.limit - 1}/{size}"))
    elif answer.status == 416:
        headers.append(("content-range", f"bytes */{size}"))
    if answer.status != 200:
        headers.append(("x-http-status", str(answer.status)))
    await context.send_initial_metadata(tuple(headers))
