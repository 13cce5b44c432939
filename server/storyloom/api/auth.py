"""The server interceptor: authenticates each call, maps domain errors, logs one line per call.

Two credentials sign a caller in, and lead to the same user-owned resources: an API key (`x-api-key`, or
`authorization: Bearer <key>`) and an identity provider's ID token (`authorization: Bearer <JWT>`), told apart by
shape (a JWT has three dot-separated parts, a key none).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeAlias, TypeVar

import grpc

from storyloom import logs
from storyloom.api import sizes
from storyloom.api.context import Context
from storyloom.api.decoding import Malformed, MalformedLog, MalformedRequest, checked_stream, guarded
from storyloom.api.errors import abort, internal_status, new_request_id, status_for_error
from storyloom.domain.accounts import Accounts
from storyloom.domain.errors import DomainError, ResourceExhausted, Unauthenticated
from storyloom.domain.identities import Identities
from storyloom.domain.ports.identity import looks_like_jwt

log = logging.getLogger("storyloom.access")

_caller: contextvars.ContextVar[str] = contextvars.ContextVar("storyloom_caller")

# A call's metadata as grpc hands it over: (key, value) pairs.
CallMetadata: TypeAlias = "Iterable[tuple[str, Any]] | None"

Request = TypeVar("Request")
Response = TypeVar("Response")

# Health and reflection must work without a key (load balancers, grpcurl list).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def caller() -> str:
    """The authenticated user id of the current call."""
    return _caller.get()


def api_key(metadata: CallMetadata) -> str | None:
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


class CallObserver(Protocol):
    """Counts calls (metrics): implemented by storyloom.observability, wired in server.py."""

    def rpc_started(self, method: str, streaming: bool) -> None: ...

    def rpc_finished(self, method: str, code: str, seconds: float, streaming: bool) -> None: ...


@dataclasses.dataclass(slots=True)
class _Call:
    """What the access log says of one call, gathered while it runs (a stream's for as long as it is open: small)."""

    start: float
    peer: str = ""
    metadata: CallMetadata = None  # until the caller is signed in
    request_id: str = ""
    user: str = ""
    code: str = ""
    bytes_in: int = 0
    bytes_out: int = 0


def _code_name(context: Context) -> str:
    code = context.code() if hasattr(context, "code") else None
    return str(getattr(code, "name", code) or "OK")


def _metadata_value(metadata: CallMetadata, name: str) -> str:
    for key, value in metadata or ():
        if key == name:
            return str(value)
    return ""


async def _counted(requests: AsyncIterator[Any], call: _Call) -> AsyncIterator[Any]:
    """A client stream, its message sizes added to the call's bytes_in as they are read."""
    async for request in requests:
        call.bytes_in += request.ByteSize()
        yield request


def retry_after(error: ResourceExhausted) -> tuple[tuple[str, str], ...]:
    """RFC 9110's `Retry-After` (whole seconds) beside the RetryInfo, as metadata the gateway passes on to HTTP."""
    return (("retry-after", str(max(1, math.ceil(error.retry_after_seconds)))),)


class ApiInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, accounts: Accounts, identities: Identities | None = None,
                 observer: CallObserver | None = None, *, max_streams_per_user: int = 0,
                 max_message_bytes: int | None = None):
        """`max_message_bytes`: request messages over it are refused with MESSAGE_TOO_LARGE (see api/sizes.py);
        None leaves the limit to grpc."""
        self._accounts = accounts
        self._identities = identities
        self._observer = observer
        self._malformed_log = MalformedLog()
        self._streams = StreamQuota(max_streams_per_user)
        self._max_message_bytes = max_message_bytes
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails],
                               Awaitable[grpc.RpcMethodHandler[Request, Response] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Request, Response] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        # Wrapped once per method, not per call: making the wrapper (a dozen closures and grpc's handler) cost about
        # as much as all the rest of the interceptor's work on a cached read. What differs from call to call (the
        # key, the request id) is read from the call's own metadata.
        known = self._wrapped.get(details.method)
        if known is None or known[0] is not handler:
            known = self._wrapped[details.method] = (handler, self._wrap(details.method, handler))
        return known[1]

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        public = method.startswith(PUBLIC_PREFIXES)
        accounts, identities, malformed_log, streams = (self._accounts, self._identities, self._malformed_log,
                                                        self._streams)

        async def enter(context: Context, call: _Call) -> str:
            # A stream may stay open for hours, thousands at once: its call keeps no copy of the metadata.
            metadata, call.metadata = call.metadata, None
            if public:
                return ""
            key = api_key(metadata)
            if key and identities is not None and looks_like_jwt(key):
                user = await identities.authenticate(key)
            else:
                # A key seen lately is answered from the accounts' cache without a coroutine (most calls).
                user = accounts.known(key) or await accounts.authenticate(key)
            _caller.set(user)
            return user

        def malformed(context: Context, user: str, request: Malformed) -> None:
            # The bytes are the client's: one line a minute per client, and nothing of them in it.
            client = user or _peer_host(context)
            skipped = malformed_log.admit(client)
            if skipped is not None:
                log.warning("malformed request", extra={"rpc": method, "user": user, "client": client,
                                                        "error": request.error, "skipped": skipped})

        def check_message(request: Any, context: Context, user: str) -> Any:
            """A request as decoded, checked after auth: one that did not decode or was too large is refused."""
            if isinstance(request, Malformed):
                malformed(context, user, request)
                raise MalformedRequest()
            return sizes.check(request)

        async def fail(context: Context, exc: Exception) -> None:
            if isinstance(exc, DomainError):
                extra = (bearer_challenge(exc) if isinstance(exc, Unauthenticated)
                         else retry_after(exc) if isinstance(exc, ResourceExhausted) else ())
                await abort(context, status_for_error(exc), extra)
            if context.cancelled():
                return  # the client went away: nothing to tell it, nothing worth a traceback
            request_id = new_request_id()
            log.exception("unhandled error", extra={"rpc": method, "requestId": request_id})
            await abort(context, internal_status(request_id))

        observer = self._observer
        streaming_call = bool(handler.unary_stream or handler.stream_stream)

        def begin(context: Context) -> _Call:
            if observer is not None:
                observer.rpc_started(method, streaming_call)
            # The peer is read now: after a cancelled stream has ended, grpc's context.peer() can crash the process.
            metadata = context.invocation_metadata()
            return _Call(time.perf_counter(), peer=context.peer(), metadata=metadata,
                         request_id=_metadata_value(metadata, "x-request-id"))

        def finish(call: _Call, context: Context) -> None:
            seconds = time.perf_counter() - call.start
            code = call.code or _code_name(context)
            if observer is not None:
                observer.rpc_finished(method, code, seconds, streaming_call)
            # Health checks arrive every few seconds from the gateway: not worth an INFO line each.
            level = logging.DEBUG if public else logging.INFO
            if log.isEnabledFor(level):
                logs.write(log, level, "rpc", {
                    "method": method, "code": code, "duration_ms": round(seconds * 1000, 1), "user": call.user,
                    "request_id": call.request_id,
                    "peer": call.peer, "bytes_in": call.bytes_in, "bytes_out": call.bytes_out})

        def unary(behavior: Callable[..., Any], streamed_request: bool) -> Callable[..., Any]:
            async def call(request: Any, context: Context) -> Any:
                state = begin(context)
                try:
                    state.user = user = await enter(context, state)
                    request = check_message(request, context, user)
                    if streamed_request:
                        request = _counted(checked_stream(sizes.checked(request),
                                                          lambda bad: malformed(context, user, bad)), state)
                    else:
                        state.bytes_in = request.ByteSize()
                    response = await behavior(request, context)
                    if response is not None:
                        state.bytes_out = response.ByteSize()
                    return response
                except asyncio.CancelledError:
                    state.code = "CANCELLED"
                    raise
                except Exception as exc:
                    if _is_abort(exc):
                        raise
                    await fail(context, exc)
                finally:
                    finish(state, context)
            return call

        def streaming(behavior: Callable[..., Any], streamed_request: bool) -> Callable[..., Any]:
            async def call(request: Any, context: Context) -> Any:
                state = begin(context)
                counted = False
                seen: list[Malformed] = []
                try:
                    state.user = user = await enter(context, state)
                    if user:
                        streams.open(user)
                        counted = True
                    request = check_message(request, context, user)
                    if streamed_request:

                        def report(bad: Malformed) -> None:
                            seen.append(bad)
                            malformed(context, user, bad)

                        request = _counted(checked_stream(sizes.checked(request), report), state)
                    else:
                        state.bytes_in = request.ByteSize()
                    if inspect.isasyncgenfunction(behavior) or inspect.isasyncgenfunction(
                            getattr(behavior, "__func__", None)):
                        async for item in behavior(request, context):
                            state.bytes_out += item.ByteSize()
                            yield item
                    else:
                        await behavior(request, context)
                    if seen:  # the servicer ended on its own after a malformed message
                        raise MalformedRequest()
                except (asyncio.CancelledError, GeneratorExit):
                    state.code = "CANCELLED"
                    raise
                except Exception as exc:
                    if _is_abort(exc):
                        raise
                    await fail(context, exc)
                finally:
                    if counted:
                        streams.close(state.user)
                    finish(state, context)
            return call

        deserializer = guarded(handler.request_deserializer)
        if self._max_message_bytes is not None:  # measured before it is parsed
            deserializer = sizes.bounded(deserializer, self._max_message_bytes)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary, False), deserializer,
                                                       handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary, True), deserializer,
                                                        handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream, False), deserializer,
                                                        handler.response_serializer)
        assert handler.stream_stream is not None  # a handler serves one of the four shapes
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream, True), deserializer,
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
