"""A wire-level fake of the Gemini REST API, so tests drive the real google-genai SDK over real HTTP.

`GeminiFake` is an HTTP/1.1 server on 127.0.0.1 (asyncio streams, hand-rolled, keep-alive) that answers
`POST /{version}/models/{model}:streamGenerateContent?alt=sse` with Server-Sent Events
(`data: {GenerateContentResponse JSON}` then a blank line, in a chunked body) and
`POST /{version}/models/{model}:generateContent` with one JSON document.

Each test scripts what the server does, one behavior per request, in order:

    fake.script(Stream([chunk("Once "), chunk("upon a time.", finish_reason="STOP")], delay=0.05),
                rate_limited(retry_delay="0.1s"),
                Hang())

and afterwards asserts on `fake.requests`: the parsed JSON bodies, the headers and path the SDK sent, when each
chunk went out, and whether the client closed the connection before the response ended. A request with nothing
scripted for it gets an HTTP 500 naming the problem, so a test that under-scripts fails loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import socket
import time
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

_PATH = re.compile(
    r"^/(?P<version>v1[a-z0-9]*)/models/(?P<model>[^/:]+):(?P<rpc>streamGenerateContent|generateContent)$")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}
_CODE_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


# --- behaviors -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stream:
    """Streams `chunks` as SSE events, waiting `delay` seconds before each (`first_delay` before the first).

    Then, depending on `end`: "complete" ends the chunked body properly; "drop" closes the connection without
    ending it (the client sees a truncated body). `error`, if set, is sent as one more event first
    (`data: {"error": {...}}`), the way Google reports a failure after a stream has started.
    """

    chunks: Sequence[dict[str, Any]]
    delay: float = 0.0
    first_delay: float | None = None
    end: Literal["complete", "drop"] = "complete"
    error: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Reply:
    """Answers with one JSON document and `status` (an error body for any endpoint, or a unary reply).

    On the streaming endpoint a 200 reply is sent as a single SSE event.
    """

    body: dict[str, Any]
    status: int = 200
    delay: float = 0.0


@dataclasses.dataclass(frozen=True)
class Hang:
    """Reads the request and never answers (with `send_headers`, sends the 200 headers and then nothing)."""

    send_headers: bool = False


Behavior = Stream | Reply | Hang


# --- builders for GenerateContentResponse JSON -------------------------------------------------------------------


def usage(prompt_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens}


def chunk(text: str | None, *, finish_reason: str | None = None, usage_metadata: dict[str, int] | None = None,
          model: str = "gemini-2.5-flash") -> dict[str, Any]:
    """One GenerateContentResponse as the API streams it (text may be None for a chunk without content)."""
    candidate: dict[str, Any] = {"index": 0}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-response"}
    if usage_metadata:
        response["usageMetadata"] = usage_metadata
    return response


def error_body(code: int, message: str, *, status: str | None = None,
               details: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A google.rpc.Status error body as the Gemini API returns it."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status or _CODE_STATUS.get(code, "UNKNOWN")}
    if details:
        error["details"] = list(details)
    return {"error": error}


def rate_limited(retry_delay: str | None = "1s") -> Reply:
    """HTTP 429 RESOURCE_EXHAUSTED with a QuotaFailure and (unless None) a RetryInfo `retryDelay` like "7s"."""
    details: list[dict[str, Any]] = [{
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}],
    }]
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    return Reply(error_body(429, "You exceeded your current quota, please check your plan and billing details.",
                            details=details), status=429)


def unavailable() -> Reply:
    """HTTP 503 UNAVAILABLE, what an overloaded model answers."""
    return Reply(error_body(503, "The model is overloaded. Please try again later."), status=503)


def blocked_prompt(reason: str = "SAFETY") -> Stream:
    """The one event a stream carries when the prompt itself is blocked: promptFeedback and no candidates."""
    return Stream([{
        "promptFeedback": {"blockReason": reason, "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "MEDIUM"}]},
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
        "modelVersion": "gemini-2.5-flash",
    }])


def json_reply(document: Any, *, prompt_tokens: int = 50, output_tokens: int = 40) -> Reply:
    """A unary generateContent reply whose text is `document` serialized as JSON (structured output)."""
    return text_reply(json.dumps(document), prompt_tokens=prompt_tokens, output_tokens=output_tokens)


def text_reply(text: str, *, prompt_tokens: int = 50, output_tokens: int = 20) -> Reply:
    return Reply(chunk(text, finish_reason="STOP", usage_metadata=usage(prompt_tokens, output_tokens)))


# --- recording ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body
    version: str
    model: str
    rpc: str  # "streamGenerateContent" or "generateContent"
    received_at: float  # time.monotonic()
    connection: int  # which connection it came on (1, 2... in order of opening): keep-alive reuse shows
    chunk_sent_at: list[float] = dataclasses.field(default_factory=list)
    # The response body ended (completely, or by the server dropping the connection).
    finished: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # The client closed the connection before the response ended.
    client_disconnected: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # The client closed the connection this request came on, at any time (shared by the connection's requests).
    connection_closed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig", {})

    @property
    def system_text(self) -> str:
        return "".join(p.get("text", "") for p in self.body.get("systemInstruction", {}).get("parts", []))


# --- the server --------------------------------------------------------------------------------------------------


class GeminiFake:
    """Serves scripted behaviors on 127.0.0.1:<free port>. Use as `async with GeminiFake() as fake:`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: list[Behavior] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections = 0
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *behaviors: Behavior) -> None:
        """Queues what the server does for the next requests, one behavior each, in order."""
        self._script.extend(behaviors)

    @property
    def unused_behaviors(self) -> int:
        return len(self._script)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Aborting the connections ends every handler (its reads see EOF); cancelling them instead would make
        # asyncio log the cancellation as an error of the connection callback.
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=2)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> GeminiFake:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        self._connections += 1
        connection = self._connections
        closed = asyncio.Event()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request: RecordedRequest | None = None
        try:
            while True:  # HTTP/1.1 keep-alive: one request after another on this connection
                request = await self._read_request(reader, connection)
                if request is None:
                    closed.set()
                    return
                request.connection_closed = closed
                self.requests.append(request)
                if not await self._respond(request, reader, writer):
                    if request.client_disconnected.is_set():
                        closed.set()
                    return
        except (ConnectionError, asyncio.IncompleteReadError):  # the client went away while we were writing
            if request is not None and not request.finished.is_set():
                request.client_disconnected.set()
            closed.set()
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _read_request(self, reader: asyncio.StreamReader, connection: int) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None  # the client closed an idle connection
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raw = bytearray()
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if size == 0:
                    break
                raw += data[:-2]
        else:
            raw = bytearray(await reader.readexactly(int(headers.get("content-length", "0"))))
        url = urlsplit(target)
        match = _PATH.match(url.path)
        return RecordedRequest(
            method=method, path=url.path, query=dict(parse_qsl(url.query)), headers=headers,
            body=json.loads(raw) if raw else None,
            version=match["version"] if match else "", model=match["model"] if match else "",
            rpc=match["rpc"] if match else "", received_at=time.monotonic(), connection=connection)

    async def _respond(self, request: RecordedRequest, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> bool:
        """Plays the next scripted behavior; returns whether the connection may serve another request."""
        if request.method != "POST" or not request.rpc:
            await self._send_json(writer, 404, error_body(404, f"fake: no route for {request.method} {request.path}"))
            request.finished.set()
            return True
        if request.rpc == "streamGenerateContent" and request.query.get("alt") != "sse":
            await self._send_json(writer, 400, error_body(400, "fake: only alt=sse streams are served"))
            request.finished.set()
            return True
        behavior = self._script.pop(0) if self._script else Reply(
            error_body(500, f"fake: no behavior scripted for request {len(self.requests)}"), status=500)
        watcher = asyncio.create_task(self._watch_for_disconnect(reader, request))
        try:
            if isinstance(behavior, Hang):
                if behavior.send_headers:
                    await self._send_stream_headers(writer)
                await request.client_disconnected.wait()
                return False
            if isinstance(behavior, Reply):
                if await self._pause(behavior.delay, request):
                    return False
                if request.rpc == "streamGenerateContent" and behavior.status == 200:
                    await self._send_stream_headers(writer)
                    await self._send_event(writer, behavior.body, request)
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                else:
                    await self._send_json(writer, behavior.status, behavior.body)
                request.finished.set()
                return True
            if request.rpc != "streamGenerateContent":
                await self._send_json(writer, 500, error_body(500, "fake: a Stream was scripted for a unary call"))
                request.finished.set()
                return True
            await self._send_stream_headers(writer)
            for index, event in enumerate(behavior.chunks):
                pause = behavior.first_delay if index == 0 and behavior.first_delay is not None else behavior.delay
                if await self._pause(pause, request):
                    return False
                await self._send_event(writer, event, request)
            if behavior.error is not None:
                await self._send_event(writer, behavior.error, request)
            if behavior.end == "drop":
                request.finished.set()
                return False
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            request.finished.set()
            return True
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    @staticmethod
    async def _watch_for_disconnect(reader: asyncio.StreamReader, request: RecordedRequest) -> None:
        """Sets `client_disconnected` when the client closes the connection while its response is open."""
        try:
            data = await reader.read(1)
        except ConnectionError:
            data = b""
        if not data:
            request.client_disconnected.set()

    @staticmethod
    async def _pause(seconds: float, request: RecordedRequest) -> bool:
        """Waits `seconds`; returns True if the client disconnected meanwhile."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(request.client_disconnected.wait(), seconds)
        return request.client_disconnected.is_set()

    @staticmethod
    async def _send_stream_headers(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                     b"Vary: Origin\r\n\r\n")
        await writer.drain()

    @staticmethod
    async def _send_event(writer: asyncio.StreamWriter, event: dict[str, Any], request: RecordedRequest) -> None:
        data = b"data: " + json.dumps(event).encode() + b"\r\n\r\n"
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
        request.chunk_sent_at.append(time.monotonic())

    @staticmethod
    async def _send_json(writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                     f"Content-Type: application/json; charset=UTF-8\r\nContent-Length: {len(data)}\r\n\r\n"
                     .encode() + data)
        await writer.drain()


# --- image generation replies (inlineData parts) -----------------------------------------------------------------


def image_part(data: bytes, mime_type: str = "image/png") -> dict[str, Any]:
    """A content part carrying an image inline, as the image models return it (base64 in JSON)."""
    import base64

    return {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode("ascii")}}


def image_reply(data: bytes, *, mime_type: str = "image/png", text: str | None = None,
                finish_reason: str = "STOP", model: str = "gemini-2.5-flash-image") -> Reply:
    """A unary generateContent reply with one inline image (after an optional text part, as the models may send)."""
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts.append(image_part(data, mime_type))
    return Reply({
        "candidates": [{"index": 0, "content": {"role": "model", "parts": parts}, "finishReason": finish_reason}],
        "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 1290, "totalTokenCount": 1330},
        "modelVersion": model, "responseId": "fake-image-response",
    })


def no_image_reply(text: str | None = "I can't draw that picture.", *, finish_reason: str = "STOP",
                   model: str = "gemini-2.5-flash-image") -> Reply:
    """An image model's reply without any image: only text (or, with text None, an empty candidate)."""
    candidate: dict[str, Any] = {"index": 0, "finishReason": finish_reason}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    return Reply({"candidates": [candidate], "modelVersion": model, "responseId": "fake-image-response"})
