"""A wire-level fake of the Gemini REST API, as strict as the service, so tests drive the real google-genai SDK.

`GeminiFake` is an HTTP/1.1 server on 127.0.0.1 (asyncio streams, keep-alive) that serves, for API versions v1 and
v1beta:
- `POST /{version}/models/{model}:streamGenerateContent?alt=sse`: Server-Sent Events (`data: {JSON}` and a blank
  line, in a chunked body), and `POST .../{model}:generateContent`: one JSON document, both as scripted;
- `POST .../{model}:batchEmbedContents` and `:embedContent`: embeddings computed from the words (texts that share
  words are near each other), unless failures are scripted with `script_embeddings`;
- `GET /{version}/models/{model}` and `GET /{version}/models`: the model catalog in `models`.

Strict like the service: every request body is parsed with Google's published message types for the version in
its URL (`google-ai-generativelanguage`: `google.ai.generativelanguage_v1beta.types` / `_v1`), rejecting unknown
fields and enum values, and a malformed request gets the service's own 400 (a google.rpc.Status with a BadRequest:
`Invalid JSON payload received. Unknown name "x" at 'generation_config': Cannot find field.`) before anything
scripted is played. A model not in the catalog, or one that does not serve the method, gets the service's 404; a
request without an API key its 403. Every response is built from the same published types (parsed strictly, then
serialized by them), so field names and casing are the service's; a scripted response the version's types cannot
carry is answered with a 500 and recorded in `script_errors`, which the shared fixture checks.

Each test scripts what the server does for the generation requests, one behavior per request, in order:

    fake.script(Stream([chunk("Once "), chunk("upon a time.", finish_reason="STOP")], delay=0.05),
                rate_limited(retry_delay="0.1s"),
                Hang())

and afterwards asserts on `fake.requests` (the generation requests; `all_requests` has every one): the parsed
JSON bodies, the headers and path the SDK sent, when each chunk went out, and whether the client closed the
connection before the response ended. A generation request with nothing scripted for it gets an HTTP 500 naming the
problem, so a test that under-scripts fails loudly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import math
import re
import socket
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from google.ai import generativelanguage_v1, generativelanguage_v1beta
from google.protobuf import any_pb2, descriptor, json_format
from google.protobuf import message as protobuf_message
from google.rpc import error_details_pb2

TYPES: dict[str, Any] = {"v1": generativelanguage_v1.types, "v1beta": generativelanguage_v1beta.types}
DEFAULT_TEXT_MODEL = "gemini-3.5-flash-lite"
DEFAULT_IMAGE_MODEL = "gemini-3.1-flash-image"
DEFAULT_EMBEDDING_MODEL = "gemini-embedding-001"

_ROUTE = re.compile(r"^/(?P<version>[^/]+)/models(?:/(?P<model>[^/:]+)(?::(?P<rpc>[A-Za-z]+))?)?$")
# rpc -> (request type, response type, the supportedGenerationMethods entry a model needs for it)
_RPCS = {
    "generateContent": ("GenerateContentRequest", "GenerateContentResponse", "generateContent"),
    "streamGenerateContent": ("GenerateContentRequest", "GenerateContentResponse", "generateContent"),
    "embedContent": ("EmbedContentRequest", "EmbedContentResponse", "embedContent"),
    "batchEmbedContents": ("BatchEmbedContentsRequest", "BatchEmbedContentsResponse", "embedContent"),
}
GENERATION_RPCS = frozenset({"generateContent", "streamGenerateContent"})
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
_CODE_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


# --- behaviors -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stream:
    """Streams `chunks` as SSE events, waiting `delay` seconds before each (`first_delay` before the first).

    Then, depending on `end`: "complete" ends the chunked body properly; "drop" closes the connection without
    ending it (the client sees a truncated body). `error`, if set, is sent as one more event first
    (`data: {"error": {...}}`), the way Google reports a failure after a stream has started.
    With `release`, the chunks after the first wait until the test sets it (so a test can show the first chunk
    arrived while the rest were held back, without racing a clock). With `hold_end`, the body stays open after the
    last chunk until the test sets it (or the client disconnects).
    """

    chunks: Sequence[dict[str, Any]]
    delay: float = 0.0
    first_delay: float | None = None
    end: Literal["complete", "drop"] = "complete"
    error: dict[str, Any] | None = None
    release: asyncio.Event | None = None
    hold_end: asyncio.Event | None = None


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


# --- building responses from the published types -----------------------------------------------------------------


def conform(document: dict[str, Any], type_name: str, version: str = "v1beta") -> dict[str, Any]:
    """`document` parsed strictly as the published message `type_name` of `version`, then serialized by it.

    Raises json_format.ParseError when the type has no such field or value, so a builder or a scripted response
    cannot carry what the service never sends.
    """
    message = getattr(TYPES[version], type_name).pb()()
    json_format.ParseDict(document, message)
    return json_format.MessageToDict(message)


def usage(prompt_tokens: int, output_tokens: int) -> dict[str, Any]:
    return conform({"usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
                                      "totalTokenCount": prompt_tokens + output_tokens}},
                   "GenerateContentResponse")["usageMetadata"]


def chunk(text: str | None, *, finish_reason: str | None = None, usage_metadata: dict[str, Any] | None = None,
          model: str = DEFAULT_TEXT_MODEL) -> dict[str, Any]:
    """One GenerateContentResponse as the API streams it (text may be None for a chunk without content)."""
    candidate: dict[str, Any] = {"index": 0}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-response"}
    if usage_metadata:
        response["usageMetadata"] = usage_metadata
    return conform(response, "GenerateContentResponse")


def _detail(message: protobuf_message.Message) -> dict[str, Any]:
    packed = any_pb2.Any()
    packed.Pack(message)
    return json_format.MessageToDict(packed)


def error_body(code: int, message: str, *, status: str | None = None,
               details: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A google.rpc.Status error body as the Gemini API returns it (`status` is the code's name)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status or _CODE_STATUS.get(code, "UNKNOWN")}
    if details:
        error["details"] = list(details)
    return {"error": error}


def bad_request(violations: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The service's 400 for a malformed request: each (field path or "", description) becomes a field violation,
    and the message is their descriptions, one a line."""
    details = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
        for field, description in violations])
    return error_body(400, "\n".join(description for _, description in violations), details=[_detail(details)])


def rate_limited(retry_delay: str | None = "1s") -> Reply:
    """HTTP 429 RESOURCE_EXHAUSTED with a QuotaFailure and (unless None) a RetryInfo `retryDelay` like "7s"."""
    details = [_detail(error_details_pb2.QuotaFailure(violations=[error_details_pb2.QuotaFailure.Violation(
        quota_metric="generativelanguage.googleapis.com/generate_content_free_tier_requests",
        quota_id="GenerateRequestsPerMinutePerProjectPerModel-FreeTier")]))]
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    return Reply(error_body(429, "You exceeded your current quota, please check your plan and billing details.",
                            details=details), status=429)


def unavailable() -> Reply:
    """HTTP 503 UNAVAILABLE, what an overloaded model answers."""
    return Reply(error_body(503, "The model is overloaded. Please try again later."), status=503)


def blocked_prompt(reason: str = "SAFETY") -> Stream:
    """The one event a stream carries when the prompt itself is blocked: promptFeedback and no candidates."""
    return Stream([conform({
        "promptFeedback": {"blockReason": reason, "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "MEDIUM"}]},
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
        "modelVersion": DEFAULT_TEXT_MODEL,
    }, "GenerateContentResponse")])


def json_reply(document: Any, *, prompt_tokens: int = 50, output_tokens: int = 40) -> Reply:
    """A unary generateContent reply whose text is `document` serialized as JSON (structured output)."""
    return text_reply(json.dumps(document), prompt_tokens=prompt_tokens, output_tokens=output_tokens)


def text_reply(text: str, *, prompt_tokens: int = 50, output_tokens: int = 20) -> Reply:
    return Reply(chunk(text, finish_reason="STOP", usage_metadata=usage(prompt_tokens, output_tokens)))


def image_reply(data: bytes, *, mime_type: str = "image/png", text: str | None = None,
                finish_reason: str = "STOP", model: str = DEFAULT_IMAGE_MODEL) -> Reply:
    """A unary generateContent reply with one inline image (after an optional text part, as the models may send)."""
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts.append({"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode("ascii")}})
    return Reply(conform({
        "candidates": [{"index": 0, "content": {"role": "model", "parts": parts}, "finishReason": finish_reason}],
        "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 1290, "totalTokenCount": 1330},
        "modelVersion": model, "responseId": "fake-image-response",
    }, "GenerateContentResponse"))


def no_image_reply(text: str | None = "I can't draw that picture.", *, finish_reason: str = "STOP",
                   model: str = DEFAULT_IMAGE_MODEL) -> Reply:
    """An image model's reply without any image: only text (or, with text None, an empty candidate)."""
    candidate: dict[str, Any] = {"index": 0, "finishReason": finish_reason}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    return Reply(conform({"candidates": [candidate], "modelVersion": model, "responseId": "fake-image-response"},
                         "GenerateContentResponse"))


def model_info(name: str, methods: Sequence[str] = ("generateContent", "countTokens"), *,
               input_token_limit: int = 1_048_576, output_token_limit: int = 65_536) -> dict[str, Any]:
    """A Model resource as models.get and models.list return it."""
    return conform({"name": f"models/{name}", "version": "001", "displayName": name,
                    "inputTokenLimit": input_token_limit, "outputTokenLimit": output_token_limit,
                    "supportedGenerationMethods": list(methods)}, "Model")


def default_models() -> dict[str, dict[str, Any]]:
    """The catalog a new fake serves: the engines' default models."""
    return {
        DEFAULT_TEXT_MODEL: model_info(DEFAULT_TEXT_MODEL),
        "gemini-3.8-flash": model_info("gemini-3.8-flash"),
        DEFAULT_IMAGE_MODEL: model_info(DEFAULT_IMAGE_MODEL, output_token_limit=32_768),
        DEFAULT_EMBEDDING_MODEL: model_info(DEFAULT_EMBEDDING_MODEL, ("embedContent", "countTextTokens"),
                                            input_token_limit=2048, output_token_limit=1),
    }


def word_embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector from the text's words (each word hashed to a dimension): texts sharing words are close."""
    values = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        values[zlib.crc32(word.encode()) % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm else [1.0] + [0.0] * (dimensions - 1)


# --- checking requests like the service --------------------------------------------------------------------------


def request_violations(body: Any, type_name: str, version: str) -> list[tuple[str, str]]:
    """What the service would refuse in `body` as a `type_name` of `version`: (field path, description) pairs in
    its words; empty when the body parses."""
    message = getattr(TYPES[version], type_name).pb()()
    if not isinstance(body, dict):
        return [("", "Invalid JSON payload received. Expected an object.")]
    found = list(_violations(body, message.DESCRIPTOR, ""))
    if not found:
        try:
            json_format.ParseDict(body, message)
        except json_format.ParseError as exc:  # a wrong type: the protobuf parser's words, not Google's
            found.append(("", f"Invalid JSON payload received. {exc}"))
    return found


def _violations(value: dict[str, Any], message: descriptor.Descriptor, path: str) -> Iterator[tuple[str, str]]:
    fields = {field.json_name: field for field in message.fields} | {field.name: field for field in message.fields}
    for key, child in value.items():
        field = fields.get(key)
        if field is None:
            where = f" at '{path}'" if path else ""
            yield path, f"Invalid JSON payload received. Unknown name \"{key}\"{where}: Cannot find field."
            continue
        at = f"{path}.{field.name}" if path else field.name
        items = list(enumerate(child)) if field.is_repeated and isinstance(child, list) else [(None, child)]
        for index, item in items:
            item_path = at if index is None else f"{at}[{index}]"
            if field.enum_type is not None and isinstance(item, str) and item not in field.enum_type.values_by_name:
                yield item_path, (f"Invalid value at '{item_path}' (type.googleapis.com/{field.enum_type.full_name}), "
                                  f"\"{item}\"")
            elif (field.message_type is not None and isinstance(item, dict)
                  and not field.message_type.full_name.startswith("google.protobuf.")):
                if field.message_type.GetOptions().map_entry:
                    value_type = field.message_type.fields_by_name["value"].message_type
                    for position, entry in enumerate(item.values()):
                        if value_type is not None and isinstance(entry, dict):
                            yield from _violations(entry, value_type, f"{item_path}[{position}].value")
                else:
                    yield from _violations(item, field.message_type, item_path)


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
    rpc: str  # "streamGenerateContent", "generateContent", "batchEmbedContents", "embedContent", "get" or "list"
    received_at: float  # time.monotonic()
    connection: int  # which connection it came on (1, 2... in order of opening): keep-alive reuse shows
    chunk_sent_at: list[float] = dataclasses.field(default_factory=list)
    # What the fake answered instead of a scripted behavior when the request was wrong (its error body), if it was.
    refused: dict[str, Any] | None = None
    # The response body ended (completely, or by the server dropping the connection).
    finished: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # The client closed the connection before the response ended.
    client_disconnected: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # The client closed the connection this request came on, at any time (shared by the connection's requests).
    connection_closed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    @property
    def generation_config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.body.get("generationConfig", {})
        return config

    @property
    def system_text(self) -> str:
        return "".join(p.get("text", "") for p in self.body.get("systemInstruction", {}).get("parts", []))


# --- the server --------------------------------------------------------------------------------------------------


class GeminiFake:
    """Serves scripted behaviors on 127.0.0.1:<free port>. Use as `async with GeminiFake() as fake:`."""

    def __init__(self) -> None:
        self.all_requests: list[RecordedRequest] = []
        # The model catalog (name without "models/" -> Model JSON); tests add or remove models.
        self.models: dict[str, dict[str, Any]] = default_models()
        # When set, models.get and models.list answer this instead of the catalog.
        self.models_failure: Reply | None = None
        # Scripted responses that the published types could not carry (a test bug; the fixture fails on any).
        self.script_errors: list[str] = []
        self._script: list[Behavior] = []
        self._embedding_script: list[Reply] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections = 0
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The generateContent and streamGenerateContent requests, in order."""
        return [request for request in self.all_requests if request.rpc in GENERATION_RPCS]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [request for request in self.all_requests if request.rpc in ("embedContent", "batchEmbedContents")]

    @property
    def model_requests(self) -> list[RecordedRequest]:
        return [request for request in self.all_requests if request.rpc in ("get", "list")]

    def script(self, *behaviors: Behavior) -> None:
        """Queues what the server does for the next generation requests, one behavior each, in order."""
        self._script.extend(behaviors)

    def script_embeddings(self, *replies: Reply) -> None:
        """Queues answers for the next embedding requests (usually failures); the rest are computed."""
        self._embedding_script.extend(replies)

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
                self.all_requests.append(request)
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
        match = _ROUTE.match(url.path)
        rpc = ""
        if match and match["rpc"]:
            rpc = match["rpc"]
        elif match and method == "GET":
            rpc = "get" if match["model"] else "list"
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        return RecordedRequest(
            method=method, path=url.path, query=dict(parse_qsl(url.query)), headers=headers, body=body,
            version=match["version"] if match else "", model=(match["model"] or "") if match else "", rpc=rpc,
            received_at=time.monotonic(), connection=connection)

    def _refusal(self, request: RecordedRequest) -> tuple[int, dict[str, Any]] | None:
        """The service's error for a request it would refuse before doing any work, or None."""
        known_rpc = request.rpc in _RPCS and request.method == "POST"
        known_read = request.rpc in ("get", "list") and request.method == "GET"
        if request.version not in TYPES or not (known_rpc or known_read):
            return 404, error_body(404, f"fake: no route for {request.method} {request.path}")
        if not request.headers.get("x-goog-api-key") and not request.query.get("key"):
            return 403, error_body(403, "Method doesn't allow unregistered callers (callers without established "
                                        "identity). Please use API Key or other form of API consumer identity to "
                                        "call this API.")
        if request.rpc == "streamGenerateContent" and request.query.get("alt") != "sse":
            return 400, error_body(400, "fake: only alt=sse streams are served")
        if known_rpc:
            type_name, _, method = _RPCS[request.rpc]
            if isinstance(request.body, str):
                return 400, bad_request([("", "Invalid JSON payload received. Unexpected token.")])
            violations = request_violations(request.body or {}, type_name, request.version)
            if violations:
                return 400, bad_request(violations)
            model = self.models.get(request.model)
            if model is None or method not in model.get("supportedGenerationMethods", ()):
                return 404, error_body(404, f"models/{request.model} is not found for API version "
                                            f"{request.version}, or is not supported for {request.rpc}. Call "
                                            "ListModels to see the list of available models and their supported "
                                            "methods.")
        return None

    async def _respond(self, request: RecordedRequest, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> bool:
        """Answers one request; returns whether the connection may serve another."""
        refusal = self._refusal(request)
        if refusal is not None:
            request.refused = refusal[1]
            await self._send_json(writer, *refusal)
            request.finished.set()
            return True
        if request.rpc in ("get", "list"):
            await self._send_json(writer, *self._model_answer(request))
        elif request.rpc in ("embedContent", "batchEmbedContents"):
            await self._send_json(writer, *self._embedding_answer(request))
        else:
            return await self._play(request, reader, writer)
        request.finished.set()
        return True

    def _model_answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        if self.models_failure is not None:
            return self.models_failure.status, self.models_failure.body
        if request.rpc == "get":
            found = self.models.get(request.model)
            if found is None:
                return 404, error_body(404, f"models/{request.model} is not found for API version "
                                            f"{request.version}, or is not supported for GET.")
            return self._conform(found, "Model", request.version)
        size = int(request.query.get("pageSize") or 50)
        start = int(request.query.get("pageToken") or 0)
        names = sorted(self.models)
        page: dict[str, Any] = {"models": [self.models[name] for name in names[start:start + size]]}
        if start + size < len(names):
            page["nextPageToken"] = str(start + size)
        return self._conform(page, "ListModelsResponse", request.version)

    def _embedding_answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        if self._embedding_script:
            reply = self._embedding_script.pop(0)
            return reply.status, reply.body
        requests = request.body["requests"] if request.rpc == "batchEmbedContents" else [request.body]
        embeddings = [{"values": word_embedding(
            " ".join(part.get("text", "") for part in each["content"].get("parts", [])),
            int(each.get("outputDimensionality") or 3072))} for each in requests]
        if request.rpc == "embedContent":
            return self._conform({"embedding": embeddings[0]}, "EmbedContentResponse", request.version)
        return self._conform({"embeddings": embeddings}, "BatchEmbedContentsResponse", request.version)

    def _conform(self, document: dict[str, Any], type_name: str, version: str) -> tuple[int, dict[str, Any]]:
        """200 and the document as the version's type serializes it, or 500 (recorded) if the type cannot hold it."""
        try:
            return 200, conform(document, type_name, version)
        except json_format.ParseError as exc:
            problem = f"a scripted {type_name} is not valid on {version}: {exc}"
            self.script_errors.append(problem)
            return 500, error_body(500, f"fake: {problem}")

    async def _play(self, request: RecordedRequest, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> bool:
        """Plays the next scripted behavior for a generation request."""
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
                status, body = behavior.status, behavior.body
                if status == 200:
                    status, body = self._conform(body, "GenerateContentResponse", request.version)
                if request.rpc == "streamGenerateContent" and status == 200:
                    await self._send_stream_headers(writer)
                    await self._send_event(writer, body, request)
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                else:
                    await self._send_json(writer, status, body)
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
                if index == 1 and behavior.release is not None:
                    await behavior.release.wait()
                # A chunk the version cannot carry goes out as an error event (and is recorded as a script error).
                _, conformed = self._conform(event, "GenerateContentResponse", request.version)
                await self._send_event(writer, conformed, request)
            if behavior.hold_end is not None and await self._held(behavior.hold_end, request):
                return False
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
    async def _held(release: asyncio.Event, request: RecordedRequest) -> bool:
        """Waits until `release` is set; returns True if the client disconnected first."""
        waits = [asyncio.ensure_future(release.wait()), asyncio.ensure_future(request.client_disconnected.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return not release.is_set()

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
