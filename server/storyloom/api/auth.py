"""The server interceptor: authenticates each call, maps domain errors, logs one line per call.

Two credentials sign a caller in, and lead to the same user-owned resources: an API key (`x-api-key`, or
`authorization: Bearer <key>`) and an identity provider's ID token (`authorization: Bearer <JWT>`), told apart by
shape (a JWT has three dot-separated parts, a key none).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from storyloom.api.context import Context
from storyloom.api.decoding import Malformed, MalformedLog, MalformedRequest, checked_stream, guarded
from storyloom.api.errors import abort, internal_status, status_for_error
from storyloom.domain.accounts import Accounts
from storyloom.domain.errors import DomainError, ResourceExhausted, Unauthenticated
from storyloom.domain.identities import Identities
from storyloom.domain.ports.identity import looks_like_jwt

log = logging.getLogger("storyloom.access")

_caller: contextvars.ContextVar[str] = contextvars.ContextVar("storyloom_caller")

Request = TypeVar("Request")
Response = TypeVar("Response")

# Health and reflection must work without a key (load balancers, grpcurl list).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def caller() -> str:
    """The authenticated user id of the current call."""
    return _caller.get()


def api_key(metadata: tuple[Any, ...] | None) -> str | None:
    for key, value in metadata or ():
        if key == "x-api-key" and value:
            return str(value)
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip()
    return None


def bearer_challenge(error: Unauthenticated) -> tuple[tuple[str, str], ...]:
    """RFC 6750's `WWW-Authenticate` for a refused token, as metadata (the gateway passes it on to HTTP callers)."""
    if not error.reason.startswith("TOKEN_"):
        return ()
    description = error.message.replace("\\", "").replace('"', "'")
    return (("www-authenticate", f'Bearer error="invalid_token", error_description="{description}"'),)


def retry_after(error: ResourceExhausted) -> tuple[tuple[str, str], ...]:
    """RFC 9110's `Retry-After` (whole seconds) beside the RetryInfo, as metadata the gateway passes on to HTTP."""
    return (("retry-after", str(max(1, math.ceil(error.retry_after_seconds)))),)


class ApiInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, accounts: Accounts, identities: Identities | None = None, *, max_streams_per_user: int = 0):
        self._accounts = accounts
        self._identities = identities
        self._malformed_log = MalformedLog()
        self._streams = StreamQuota(max_streams_per_user)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails],
                               Awaitable[grpc.RpcMethodHandler[Request, Response] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Request, Response] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        public = method.startswith(PUBLIC_PREFIXES)
        key = api_key(details.invocation_metadata)
        accounts, identities, malformed_log, streams = (self._accounts, self._identities, self._malformed_log,
                                                        self._streams)

        async def enter(context: Context) -> str:
            if public:
                return ""
            if key and identities is not None and looks_like_jwt(key):
                user = await identities.authenticate(key)
            else:
                user = await accounts.authenticate(key)
            _caller.set(user)
            return user

        def malformed(context: Context, user: str, request: Malformed) -> None:
            # The bytes are the client's: one line a minute per client, and nothing of them in it.
            client = user or _peer_host(context)
            skipped = malformed_log.admit(client)
            if skipped is not None:
                log.warning("malformed request", extra={"rpc": method, "user": user, "client": client,
                                                        "error": request.error, "skipped": skipped})

        async def fail(context: Context, exc: Exception) -> None:
            if isinstance(exc, DomainError):
                extra = (bearer_challenge(exc) if isinstance(exc, Unauthenticated)
                         else retry_after(exc) if isinstance(exc, ResourceExhausted) else ())
                await abort(context, status_for_error(exc), extra)
            log.exception("unhandled error", extra={"rpc": method})
            await abort(context, internal_status())

        def finish(start: float, user: str, context: Context) -> None:
            code = context.code() if hasattr(context, "code") else None
            # Health checks arrive every few seconds from the gateway: not worth an INFO line each.
            log.log(logging.DEBUG if public else logging.INFO, "rpc",
                    extra={"rpc": method, "user": user, "code": getattr(code, "name", code) or "OK",
                           "ms": round((time.perf_counter() - start) * 1000, 1)})

        def unary(behavior: Callable[..., Any], stream_in: bool = False) -> Callable[..., Any]:
            async def call(request: Any, context: Context) -> Any:
                start, user = time.perf_counter(), ""
                try:
                    user = await enter(context)
                    if isinstance(request, Malformed):
                        malformed(context, user, request)
                        raise MalformedRequest()
                    if stream_in:
                        request = checked_stream(request, lambda bad: malformed(context, user, bad))
                    return await behavior(request, context)
                except Exception as exc:
                    if _is_abort(exc):
                        raise
                    await fail(context, exc)
                finally:
                    finish(start, user, context)
            return call

        def streaming(behavior: Callable[..., Any], stream_in: bool = False) -> Callable[..., Any]:
            async def call(request: Any, context: Context) -> Any:
                start, user, counted = time.perf_counter(), "", False
                seen: list[Malformed] = []
                try:
                    user = await enter(context)
                    if user:
                        streams.open(user)
                        counted = True
                    if isinstance(request, Malformed):
                        malformed(context, user, request)
                        raise MalformedRequest()
                    if stream_in:

                        def report(bad: Malformed) -> None:
                            seen.append(bad)
                            malformed(context, user, bad)

                        request = checked_stream(request, report)
                    if inspect.isasyncgenfunction(behavior) or inspect.isasyncgenfunction(
                            getattr(behavior, "__func__", None)):
                        async for item in behavior(request, context):
                            yield item
                    else:
                        await behavior(request, context)
                    if seen:  # the servicer ended on its own after a malformed message
                        raise MalformedRequest()
                except Exception as exc:
                    if _is_abort(exc):
                        raise
                    await fail(context, exc)
                finally:
                    if counted:
                        streams.close(user)
                    finish(start, user, context)
            return call

        deserializer = guarded(handler.request_deserializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), deserializer,
                                                       handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary, stream_in=True), deserializer,
                                                        handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), deserializer,
                                                        handler.response_serializer)
        assert handler.stream_stream is not None  # a handler serves one of the four shapes
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream, stream_in=True), deserializer,
                                                     handler.response_serializer)


# How long a caller with too many open streams is told to wait.
STREAM_LIMIT_RETRY_SECONDS = 5.0


class StreamQuota:
    """Open streams per user on this server (0: no limit); one past the limit is RESOURCE_EXHAUSTED."""

    def __init__(self, limit: int):
        self._limit = limit
        self._open: dict[str, int] = {}

    def open(self, user: str) -> None:
        count = self._open.get(user, 0)
        if self._limit and count >= self._limit:
            raise ResourceExhausted(f"You have {count} streams open, the most allowed; close one first.",
                                    retry_after_seconds=STREAM_LIMIT_RETRY_SECONDS, reason="STREAM_LIMIT_EXCEEDED",
                                    metadata={"limit": str(self._limit)})
        self._open[user] = count + 1

    def close(self, user: str) -> None:
        count = self._open.get(user, 0) - 1
        if count > 0:
            self._open[user] = count
        else:
            self._open.pop(user, None)


def _peer_host(context: Context) -> str:
    """The caller's address without its port (`ipv4:10.0.0.1:5555` -> `ipv4:10.0.0.1`)."""
    peer = context.peer() or ""
    return peer.rsplit(":", 1)[0] if peer.count(":") > 1 else peer


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises grpc.aio.AbortError; it must reach grpc untouched.
    return isinstance(exc, grpc.aio.AbortError)
