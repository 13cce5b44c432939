"""One issuer's public keys: a JWKS URL fetched and cached, and a JWKS file (the keys, or a fallback for the URL).

The fetched set is trusted for `cache_seconds`, then fetched again when next needed. A key id that is not in the
set fetches it again at once (a provider publishes a new key when it rotates), but at most once per
`refresh_cooldown_seconds`, so tokens naming made-up key ids cannot turn each call into a fetch. Concurrent calls
that need a fetch share one. When the URL cannot be reached, keys past their time are not used: the file's keys
are, if there is a file; otherwise the keys are unavailable, and no token is accepted on a guess.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

Key = Any  # one joserfc key (RSAKey, ECKey, OKPKey)


class KeysUnavailable(Exception):
    """Neither the URL nor a file gave usable keys."""


def _key_set(document: object) -> KeySet:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS: a JSON object with a `keys` list")
    # Keys of a type joserfc does not know (or for encryption only) are skipped, not fatal: a provider may
    # publish more than we verify with.
    usable = []
    for entry in document["keys"]:
        if isinstance(entry, dict) and entry.get("use", "sig") == "sig":
            try:
                KeySet.import_key_set({"keys": [entry]})
            except (JoseError, ValueError, TypeError):
                continue
            usable.append(entry)
    return KeySet.import_key_set({"keys": usable})


class JwksSource:
    def __init__(self, url: str = "", file: str | Path = "", *, http: httpx.AsyncClient | None = None,
                 cache_seconds: float = 300.0, refresh_cooldown_seconds: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic):
        if not (url or file):
            raise ValueError("a JWKS source needs a URL or a file")
        self.url = url
        self.file = Path(file) if file else None
        self._http = http
        self._cache_seconds = cache_seconds
        self._cooldown = refresh_cooldown_seconds
        self._monotonic = monotonic
        self._fetched: KeySet | None = None
        self._fetched_at = -float("inf")
        self._tried_at = -float("inf")
        self._last_failed = False
        self._lock = asyncio.Lock()
        self._file_keys: KeySet | None = None
        self._file_mtime = -1.0
        if self.file is not None:
            self._read_file()  # a broken file is a configuration error: the server does not start

    def _read_file(self) -> KeySet:
        assert self.file is not None
        mtime = self.file.stat().st_mtime
        if self._file_keys is None or mtime != self._file_mtime:
            self._file_keys = _key_set(json.loads(self.file.read_text()))
            self._file_mtime = mtime
        return self._file_keys

    async def find(self, kid: str | None, kty: str) -> list[Key]:
        """The keys that may have signed a token: the one with its `kid`, or without a kid every key of its type.
        Empty when the keys are known and none fits; KeysUnavailable when the keys cannot be had."""
        url_failed = False
        if self.url:
            try:
                keys = await self._url_keys(kid)
            except KeysUnavailable:
                url_failed = True
            else:
                if found := _matching(keys, kid, kty):
                    return found
        if self.file is not None:
            try:
                if found := _matching(self._read_file(), kid, kty):
                    return found
            except (OSError, ValueError) as exc:
                log.warning("cannot read the JWKS file", extra={"file": str(self.file), "error": str(exc)})
                if url_failed or not self.url:
                    raise KeysUnavailable(f"the JWKS file {self.file} cannot be read") from None
        if url_failed:
            raise KeysUnavailable(f"the keys at {self.url} cannot be fetched")
        return []

    def _fresh(self) -> KeySet | None:
        if self._fetched is not None and self._monotonic() - self._fetched_at < self._cache_seconds:
            return self._fetched
        return None

    async def _url_keys(self, kid: str | None) -> KeySet:
        keys = self._fresh()
        if keys is not None and (kid is None or _has_kid(keys, kid)):
            return keys
        async with self._lock:
            keys = self._fresh()
            if keys is not None and (kid is None or _has_kid(keys, kid)):
                return keys  # another call fetched them while this one waited
            if self._monotonic() - self._tried_at < self._cooldown:
                # Fetched (or failed) a moment ago: that answer stands until the cooldown is over.
                if keys is None or self._last_failed:
                    raise KeysUnavailable(self.url)
                return keys
            self._tried_at = self._monotonic()
            try:
                self._fetched = await self._fetch()
            except KeysUnavailable:
                # The keys we have stay good for their kids until they expire; a new kid cannot be checked.
                self._last_failed = True
                raise
            self._fetched_at, self._last_failed = self._monotonic(), False
            return self._fetched

    async def _fetch(self) -> KeySet:
        http = self._http or httpx.AsyncClient(timeout=5.0)
        try:
            response = await http.get(self.url, headers={"accept": "application/json"})
            response.raise_for_status()
            keys = _key_set(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("cannot fetch the JWKS", extra={"url": self.url, "error": str(exc) or type(exc).__name__})
            raise KeysUnavailable(self.url) from None
        finally:
            if self._http is None:
                await http.aclose()
        log.info("fetched the JWKS", extra={"url": self.url, "kids": ",".join(str(k.kid) for k in keys.keys)})
        return keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


def _matching(keys: KeySet, kid: str | None, kty: str) -> list[Key]:
    if kid is not None:
        return [k for k in keys.keys if k.kid == kid]
    return [k for k in keys.keys if k.key_type == kty]
