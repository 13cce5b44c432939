"""The server interceptor: authenticates each call, maps domain errors, logs one line per call."""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from storyloom.api.context import Context
from storyloom.api.errors import abort, internal_status, status_for_error
from storyloom.domain.accounts import Accounts
from storyloom.domain.errors import DomainError

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


class ApiInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

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
        accounts = self._accounts

        async def enter(context: Context) -> str:
            if public:
                return ""
            user = await accounts.authenticate(key)
            _caller.set(user)
            return user

        async def fail(context: Context, exc: Exception) -> None:
            if isinstance(exc, DomainError):
                await abort(context, status_for_error(exc))
            log.exception("unhandled error", extra={"rpc": method})
            await abort(context, internal_status())

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

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), handler.request_deserializer,
                                                       handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), handler.request_deserializer,
                                                        handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream),
                                                        handler.request_deserializer, handler.response_serializer)
        assert handler.stream_stream is not None  # a handler serves one of the four shapes
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), handler.request_deserializer,
                                                     handler.response_serializer)


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises grpc.aio.AbortError; it must reach grpc untouched.
    return isinstance(exc, grpc.aio.AbortError)
