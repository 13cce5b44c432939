"""The server interceptor: authenticates each call, maps domain errors, logs one line per call.

Two credentials sign a caller in, and lead to the same user-owned resources: an API key (`x-api-key`, or
`authorization: Bearer <key>`) and an identity provider's ID token (`authorization: Bearer <JWT>`), told apart by
shape (a JWT has three dot-separated parts, a key none).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from storyloom.api import sizes
from storyloom.api.context import Context
from storyloom.api.errors import abort, internal_status, new_request_id, status_for_error
from storyloom.domain.accounts import Accounts
from storyloom.domain.errors import DomainError, Unauthenticated
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


class ApiInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, accounts: Accounts, identities: Identities | None = None, *,
                 max_message_bytes: int | None = None):
        """`max_message_bytes`: request messages over it are refused with MESSAGE_TOO_LARGE (see api/sizes.py);
        None leaves the limit to grpc."""
        self._accounts = accounts
        self._identities = identities
        self._max_message_bytes = max_message_bytes

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
        accounts, identities = self._accounts, self._identities

        async def enter(context: Context) -> str:
            if public:
                return ""
            if key and identities is not None and looks_like_jwt(key):
                user = await identities.authenticate(key)
            else:
                user = await accounts.authenticate(key)
            _caller.set(user)
            return user

        async def fail(context: Context, exc: Exception) -> None:
            if isinstance(exc, DomainError):
                challenge = bearer_challenge(exc) if isinstance(exc, Unauthenticated) else ()
                await abort(context, status_for_error(exc), challenge)
            if context.cancelled():
                return  # the client went away: nothing to tell it, nothing worth a traceback
            request_id = new_request_id()
            log.exception("unhandled error", extra={"rpc": method, "requestId": request_id})
            await abort(context, internal_status(request_id))

        def finish(start: float, user: str, context: Context) -> None:
            code = context.code() if hasattr(context, "code") else None
            # Health checks arrive every few seconds from the gateway: not worth an INFO line each.
            log.log(logging.DEBUG if public else logging.INFO, "rpc",
                    extra={"rpc": method, "user": user, "code": getattr(code, "name", code) or "OK",
                           "ms": round((time.perf_counter() - start) * 1000, 1)})

        def unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
            async def call(request: Any, context: Context) -> Any:
                start, user = time.perf_counter(), ""
                try:
                    user = await enter(context)
                    request = sizes.checked(request) if hasattr(request, "__aiter__") else sizes.check(request)
                    return await behavior(request, context)
                except Exception as exc:
                    if _is_abort(exc):
                        raise
                    await fail(context, exc)
                finally:
                    finish(start, user, context)
            return call

        def streaming(behavior: Callable[..., Any]) -> Callable[..., Any]:
            async def call(request: Any, context: Context) -> Any:
                start, user = time.perf_counter(), ""
                try:
                    user = await enter(context)
                    request = sizes.checked(request) if hasattr(request, "__aiter__") else sizes.check(request)
                    if inspect.isasyncgenfunction(behavior) or inspect.isasyncgenfunction(
                            getattr(behavior, "__func__", None)):
                        async for item in behavior(request, context):
                            yield item
                    else:
                        await behavior(request, context)
                except Exception as exc:
                    if _is_abort(exc):
                        raise
                    await fail(context, exc)
                finally:
                    finish(start, user, context)
            return call

        deserializer = handler.request_deserializer
        if self._max_message_bytes is not None:
            deserializer = sizes.bounded(deserializer, self._max_message_bytes)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), deserializer,
                                                       handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), deserializer,
                                                        handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), deserializer,
                                                        handler.response_serializer)
        assert handler.stream_stream is not None  # a handler serves one of the four shapes
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), deserializer,
                                                     handler.response_serializer)


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises grpc.aio.AbortError; it must reach grpc untouched.
    return isinstance(exc, grpc.aio.AbortError)
