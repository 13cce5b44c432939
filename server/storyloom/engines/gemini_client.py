"""The one connection to Gemini that every Gemini engine uses: a google-genai client, one retry policy, one error
classification, and the API version check.

`GeminiConnection` owns the SDK client (on our own httpx client, SDK retries off) and the chosen REST API version
(v1beta unless configured; see gemini_versions). Its calls:
- `generate`: one unary generateContent, retried by the policy within the call's deadlines;
- `stream`: streamGenerateContent, retried only while nothing has reached the caller;
- `embed`: embedContent for a batch of texts (batchEmbedContents on the wire), retried like `generate`;
- `check_model`: whether a model exists and serves a method, with a warning that names the models that do.

The retry policy (`GeminiRetryPolicy`): exponential backoff with equal jitter, a 429's RetryInfo delay honoured,
nothing after the call's total deadline, and never once a reply's first text has been forwarded. Errors become domain
errors here: 429 -> EngineRateLimited, other retryable failures -> EngineUnavailable (ENGINE_TIMEOUT for deadlines),
other 4xx -> EngineUnavailable at once; a blocked prompt or a reply stopped for safety -> EngineRefused.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import logging
import math
import os
import random
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import pydantic
from google import genai
from google.genai import errors, types

from storyloom.domain.errors import DomainError
from storyloom.domain.ports.text import EngineRateLimited, EngineRefused, EngineUnavailable
from storyloom.engines.gemini_versions import API_VERSION_SETTING, DEFAULT_API_VERSION, check_api_version, check_request

try:  # google-genai 3.x talks through httpx2 when it is installed (it is one of its dependencies), else httpx.
    import httpx2 as _httpx
except ImportError:  # pragma: no cover
    import httpx as _httpx  # type: ignore[no-redef]  # the same API under its older name

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Gemini finish reasons that mean the reply was cut for content policy.
SAFETY_FINISH_REASONS = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                                   "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})
# Block anything rated low risk or above in the four adjustable categories: the audience is children.
SAFETY_SETTINGS = tuple(
    types.SafetySetting(category=category, threshold=types.HarmBlockThreshold.BLOCK_LOW_AND_ABOVE)
    for category in (types.HarmCategory.HARM_CATEGORY_HARASSMENT, types.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
                     types.HarmCategory.HARM_CATEGORY_SEXUALLY_EXPLICIT,
                     types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT))
_RETRYABLE_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
# How long the start-up model check may take before it gives up (and says so).
MODEL_CHECK_SECONDS = 10.0
# Texts embedded in one request at most (batchEmbedContents takes up to 100).
EMBED_BATCH = 100

# The responses opened by the current model call, so that closing a reply closes its HTTP stream at once.
_open_responses: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("gemini_open_responses",
                                                                                    default=None)


async def _remember_response(response: Any) -> None:
    """httpx response hook: records each response in the list of the call that is waiting for it."""
    opened = _open_responses.get()
    if opened is not None:
        opened.append(response)


@dataclasses.dataclass(frozen=True)
class GeminiTimeouts:
    """Deadlines, in seconds.

    `first_chunk` runs from sending a request to receiving the first streamed chunk (for a unary call, the whole
    response); `idle` is the longest wait between two chunks; `total` bounds a whole call, retries included.
    """

    first_chunk: float = 20.0
    idle: float = 15.0
    total: float = 90.0


@dataclasses.dataclass(frozen=True)
class GeminiRetryPolicy:
    """How failed attempts are retried (`attempts` counts the first try)."""

    attempts: int = 3
    initial_backoff: float = 1.0
    max_backoff: float = 10.0

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (1, 2...): doubling from initial_backoff, capped, with jitter.

        Half the delay is fixed and half random ("equal jitter"), so clients that failed together spread out
        without any of them retrying at once.
        """
        delay = min(self.max_backoff, self.initial_backoff * 2.0 ** (retry - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def delay(self, failure: Failure, attempt: int, *, forwarded: bool, time_left: float) -> float | None:
        """How long to wait before the next attempt, or None to give up.

        Never after something was forwarded to the caller (a retry would repeat it), never for a failure retrying
        cannot mend, and never past the call's deadline or when the server asks for a longer wait than the cap.
        """
        if forwarded or not failure.retryable or attempt >= self.attempts:
            return None
        if failure.retry_delay is not None:
            if failure.retry_delay > self.max_backoff:
                return None
            delay = failure.retry_delay
        else:
            delay = self.backoff(attempt)
        return delay if delay < time_left else None

    def retry_after(self, failure: Failure, attempt: int) -> float:
        """What to tell the caller to wait before trying again."""
        return failure.retry_delay if failure.retry_delay is not None else self.backoff(attempt)


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed attempt, classified."""

    kind: Literal["rate_limited", "unavailable", "timeout"]
    message: str
    retryable: bool
    retry_delay: float | None = None  # what the server asked for (RetryInfo), if anything
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def error(self, retry_after_seconds: float) -> DomainError:
        metadata = dict(self.metadata)
        if self.kind == "rate_limited":
            return EngineRateLimited(self.message, retry_after_seconds=retry_after_seconds, metadata=metadata)
        if self.kind == "timeout":
            return EngineUnavailable(self.message, reason="ENGINE_TIMEOUT", metadata=metadata)
        return EngineUnavailable(self.message, metadata=metadata)


class _AttemptFailed(Exception):
    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


class GeminiConnection:
    """One google-genai client (one connection pool) on one API version, with the retry policy."""

    def __init__(self, api_key: str, *, base_url: str | None = None, api_version: str = DEFAULT_API_VERSION,
                 retry: GeminiRetryPolicy = GeminiRetryPolicy(), backstop_timeout: float = 300.0):
        """`base_url` replaces https://generativelanguage.googleapis.com (tests point it at a local fake).

        Each call's deadlines are its own (GeminiTimeouts); `backstop_timeout` only bounds every connect and read
        below them and tells the server how long an answer may take (X-Server-Timeout)."""
        if not api_key:
            raise ValueError("a Gemini API key is required")
        if retry.attempts < 1:
            raise ValueError("retry.attempts must be at least 1")
        check_api_version(api_version)
        self.api_version = api_version
        self.retry = retry
        # Our own httpx client, so every response can be closed deterministically (see _close_stream); the SDK
        # uses it as is and leaves closing it to us.
        self._http = _httpx.AsyncClient(event_hooks={"response": [_remember_response]}, follow_redirects=True)
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,  # never switch to Vertex AI because of GOOGLE_GENAI_USE_VERTEXAI in the environment
            http_options=types.HttpOptions(
                base_url=base_url,
                # Always explicit: the SDK's own default (v1 in google-genai 3.x, or GOOGLE_GENAI_API_VERSION) lacks
                # what the engines send.
                api_version=api_version,
                timeout=math.ceil(backstop_timeout * 1000),  # milliseconds
                # One attempt: retries are ours. Setting this (rather than leaving it unset) also stops the
                # SDK's implicit retry of connection errors on its aiohttp transport.
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
            ),
        )
        self._draining: set[asyncio.Task[None]] = set()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **options: Any) -> GeminiConnection:
        """From GEMINI_API_KEY, STORYLOOM_GEMINI_BASE_URL and STORYLOOM_GEMINI_API_VERSION."""
        api_key = environ.get("GEMINI_API_KEY", "").strip()
        if not api_key:
            raise ValueError("GEMINI_API_KEY is not set")
        return cls(api_key, base_url=environ.get("STORYLOOM_GEMINI_BASE_URL", "").strip() or None,
                   api_version=api_version_from_env(environ), **options)

    async def aclose(self) -> None:
        for drain in list(self._draining):
            drain.cancel()
        await asyncio.gather(*self._draining, return_exceptions=True)
        await self._client.aio.aclose()
        self._client.close()
        await self._http.aclose()

    def check_request(self, contents: Sequence[types.Content], config: types.GenerateContentConfig, *,
                      purpose: str) -> None:
        """Raises UnsupportedByApiVersion if this connection's API version lacks a field the request sends."""
        check_request(self.api_version, contents, config, purpose=purpose)

    async def generate(self, model: str, contents: list[types.Content], config: types.GenerateContentConfig, *,
                       timeouts: GeminiTimeouts, purpose: str) -> types.GenerateContentResponse:
        """One unary call, retried by the policy; returns the whole response.

        Each attempt is bounded by `timeouts.first_chunk`, all of them together by `timeouts.total`. Raises
        EngineRefused when the prompt is blocked or the reply was stopped for safety, EngineRateLimited when the
        quota stays exhausted, EngineUnavailable for the rest.
        """
        self.check_request(contents, config, purpose=purpose)
        response = await self._call(
            lambda: self._client.aio.models.generate_content(model=model, contents=contents, config=config),
            model=model, timeouts=timeouts, purpose=purpose)
        raise_if_prompt_blocked(response)
        finish = finish_reason(response)
        if finish in SAFETY_FINISH_REASONS:
            raise EngineRefused(f"Gemini blocked the {purpose} reply ({finish})",
                                metadata={"model": model, "finishReason": finish})
        return response

    async def stream(self, model: str, contents: list[types.Content], config: types.GenerateContentConfig, *,
                     timeouts: GeminiTimeouts, purpose: str) -> AsyncGenerator[types.GenerateContentResponse]:
        """Streams a reply's chunks as they arrive.

        Chunks without text are held back until one with text comes (or the reply ends), so that until then a
        failure can be retried without the caller seeing anything twice; after it, any failure ends the stream at
        once. `first_chunk` bounds the wait for each attempt's first chunk, `idle` the gaps between chunks, `total`
        the whole call. A blocked prompt raises EngineRefused. Closing the iterator closes the HTTP stream, except
        right after a chunk with a finish reason: then the rest of the stream is read in the background, so its
        connection can serve another call.
        """
        self.check_request(contents, config, purpose=purpose)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total
        forwarded = False
        attempt = 0
        while True:
            attempt += 1
            opened: list[Any] = []
            stream: AsyncIterator[types.GenerateContentResponse] | None = None
            held: list[types.GenerateContentResponse] = []
            whole = False  # the last chunk yielded carried a finish reason
            try:
                stream = await self._client.aio.models.generate_content_stream(
                    model=model, contents=contents, config=config)
                while True:
                    try:
                        chunk = await self._next_chunk(stream, opened, model, timeouts, first=not (held or forwarded),
                                                       deadline=deadline)
                    except StopAsyncIteration:
                        break
                    raise_if_prompt_blocked(chunk)
                    held.append(chunk)
                    if forwarded or has_text(chunk):
                        forwarded = True
                        while held:
                            whole = finish_reason(held[0]) is not None
                            yield held.pop(0)
                for chunk in held:
                    yield chunk
                return
            except _AttemptFailed as attempt_failed:
                failed = attempt_failed
            except GeneratorExit:
                if whole and stream is not None:  # the caller has the whole reply; its HTTP stream has not ended
                    self._drain_later(stream, opened, timeouts)
                    stream, opened = None, []
                raise
            finally:
                await _close_stream(stream, opened)
            delay = self._retry_or_raise(failed, attempt, model=model, purpose=purpose, forwarded=forwarded,
                                         time_left=deadline - loop.time())
            await asyncio.sleep(delay)

    async def embed(self, model: str, texts: Sequence[str], *, task_type: str, dimensions: int,
                    timeouts: GeminiTimeouts) -> list[list[float]]:
        """One vector per text (at most EMBED_BATCH texts a request), retried by the policy."""
        config = types.EmbedContentConfig(task_type=task_type, output_dimensionality=dimensions)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            # One Content per text: the SDK would join a list of plain strings into one content (one vector).
            batch: list[types.ContentUnion] = [types.Content(role="user", parts=[types.Part(text=text)])
                                               for text in texts[start:start + EMBED_BATCH]]

            def call(batch: list[types.ContentUnion] = batch) -> Awaitable[types.EmbedContentResponse]:
                return self._client.aio.models.embed_content(model=model, contents=batch, config=config)

            response = await self._call(call, model=model, timeouts=timeouts, purpose="embedding")
            found = [list(embedding.values or ()) for embedding in response.embeddings or ()]
            if len(found) != len(batch) or not all(found):
                raise EngineUnavailable(f"Gemini returned {len(found)} embeddings for {len(batch)} texts",
                                        metadata={"model": model})
            vectors += found
        return vectors

    async def check_model(self, model: str, *, method: str = "generateContent",
                          setting: str = "the model setting") -> bool | None:
        """Whether `model` exists on this API version and serves `method`; None when that could not be asked.

        When it does not, logs a warning that names the models that do and the setting to change. A check that
        cannot be made (no answer, a refused key) is logged too; the first real call will fail with the reason.
        """
        try:
            async with asyncio.timeout(MODEL_CHECK_SECONDS):
                try:
                    found = await self._client.aio.models.get(model=model)
                except errors.ClientError as exc:
                    if exc.code != 404:
                        raise
                    found = None
                if found is not None and method in (found.supported_actions or ()):
                    return True
                available = await self._models_serving(method)
        except Exception as exc:  # noqa: BLE001 - the check is advice: it never stops the server
            logger.warning("Could not check that Gemini model %s exists on API %s: %s", model, self.api_version,
                           _describe(exc))
            return None
        what = "does not exist" if found is None else f"does not serve {method}"
        logger.warning("Gemini model %s %s on API %s; set %s to one that does. Models serving %s: %s", model, what,
                       self.api_version, setting, method, ", ".join(available) or "(none listed)")
        return False

    async def _models_serving(self, method: str) -> list[str]:
        names = []
        async for listed in await self._client.aio.models.list(config=types.ListModelsConfig(page_size=50)):
            if method in (listed.supported_actions or ()) and listed.name:
                names.append(listed.name.removeprefix("models/"))
        return sorted(names)

    # --- internals -----------------------------------------------------------------------------------------------

    def _drain_later(self, stream: AsyncIterator[types.GenerateContentResponse], opened: list[Any],
                     timeouts: GeminiTimeouts) -> None:
        """Reads what is left of a whole reply's stream (its end normally follows the finishing chunk at once) in
        the background, then closes it: a response closed before its body ends also closes its connection, and a
        new one costs the next call a TLS handshake."""
        drain = asyncio.get_running_loop().create_task(_drain_then_close(stream, opened, timeouts.idle))
        self._draining.add(drain)
        drain.add_done_callback(self._draining.discard)

    async def _call(self, call: Callable[[], Awaitable[T]], *, model: str, timeouts: GeminiTimeouts,
                    purpose: str) -> T:
        """Runs `call` with the retry policy: each attempt within `first_chunk`, all within `total`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total
        attempt = 0
        while True:
            attempt += 1
            limit = min(timeouts.first_chunk, deadline - loop.time())
            try:
                try:
                    async with asyncio.timeout(limit):
                        return await call()
                except TimeoutError as exc:
                    raise _AttemptFailed(Failure(
                        "timeout", f"Gemini did not answer the {purpose} request within {limit:.3g} s",
                        retryable=True, metadata={"model": model, "timeoutSeconds": f"{limit:.3g}"})) from exc
                except Exception as exc:
                    raise _AttemptFailed(self._classify(exc, model)) from exc
            except _AttemptFailed as failed:
                delay = self._retry_or_raise(failed, attempt, model=model, purpose=purpose, forwarded=False,
                                             time_left=deadline - loop.time())
                await asyncio.sleep(delay)

    def _retry_or_raise(self, failed: _AttemptFailed, attempt: int, *, model: str, purpose: str, forwarded: bool,
                        time_left: float) -> float:
        """The delay before the next attempt; raises the failure's domain error when there is none."""
        failure = failed.failure
        delay = self.retry.delay(failure, attempt, forwarded=forwarded, time_left=time_left)
        if delay is None:
            raise failure.error(self.retry.retry_after(failure, attempt)) from failed.__cause__
        logger.info("Gemini %s %s request failed (%s), attempt %d of %d; retrying in %.2f s", model, purpose,
                    failure.message, attempt, self.retry.attempts, delay)
        return delay

    async def _next_chunk(self, stream: AsyncIterator[types.GenerateContentResponse], opened: list[Any], model: str,
                          timeouts: GeminiTimeouts, *, first: bool, deadline: float) -> types.GenerateContentResponse:
        """The stream's next chunk within the first-chunk or idle deadline; failures raise _AttemptFailed."""
        loop = asyncio.get_running_loop()
        limit = timeouts.first_chunk if first else timeouts.idle
        at = min(loop.time() + limit, deadline)
        token = _open_responses.set(opened)
        try:
            async with asyncio.timeout_at(at):
                return await anext(stream)
        except TimeoutError as exc:
            if at >= deadline:
                message = f"Gemini did not finish within {timeouts.total:g} s"
            elif first:
                message = f"Gemini sent nothing within {limit:g} s"
            else:
                message = f"Gemini stalled for more than {limit:g} s"
            raise _AttemptFailed(Failure("timeout", message, retryable=True, metadata={
                "model": model, "timeoutSeconds": f"{limit:g}"})) from exc
        except StopAsyncIteration:
            raise
        except Exception as exc:
            raise _AttemptFailed(self._classify(exc, model)) from exc
        finally:
            _open_responses.reset(token)

    def _classify(self, exc: Exception, model: str) -> Failure:
        metadata = {"model": model}
        if isinstance(exc, errors.APIError):
            metadata |= {"httpStatus": str(exc.code), "status": str(exc.status or "")}
            if exc.code == 429:
                return Failure("rate_limited", f"Gemini quota exhausted: {exc.message}", retryable=True,
                               retry_delay=_retry_info_delay(exc.details), metadata=metadata)
            if exc.code in _RETRYABLE_HTTP_STATUSES:
                return Failure("unavailable", f"Gemini failed: {exc.code} {exc.status}", retryable=True,
                               metadata=metadata)
            # Other 4xx: a bad key, an unknown model, a request Gemini rejects. Retrying cannot help.
            logger.error("Gemini %s rejected a request: %s %s: %s", model, exc.code, exc.status, exc.message)
            return Failure("unavailable", f"Gemini rejected the request: {exc.code} {exc.status}", retryable=False,
                           metadata=metadata)
        if isinstance(exc, _httpx.TimeoutException):
            return Failure("timeout", f"Gemini timed out ({type(exc).__name__})", retryable=True, metadata=metadata)
        if isinstance(exc, _httpx.TransportError | OSError):
            return Failure("unavailable", f"Gemini connection failed ({type(exc).__name__}: {exc})", retryable=True,
                           metadata=metadata)
        if isinstance(exc, errors.UnknownApiResponseError | pydantic.ValidationError | json.JSONDecodeError):
            return Failure("unavailable", f"Gemini sent an unreadable response ({type(exc).__name__})",
                           retryable=True, metadata=metadata)
        raise exc  # a bug, not an outage: let it surface as itself


def api_version_from_env(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(API_VERSION_SETTING, "").strip() or DEFAULT_API_VERSION


# --- reading responses -------------------------------------------------------------------------------------------


def finish_reason(response: types.GenerateContentResponse) -> str | None:
    """The first candidate's finish reason as its enum name ("STOP", "IMAGE_SAFETY"...), or None."""
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None or candidate.finish_reason is None:
        return None
    return enum_name(candidate.finish_reason)


def candidate_text(response: types.GenerateContentResponse) -> str:
    """The first candidate's text, thoughts left out."""
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None or candidate.content is None or not candidate.content.parts:
        return ""
    return "".join(part.text for part in candidate.content.parts if part.text and not part.thought)


def has_text(response: types.GenerateContentResponse) -> bool:
    return bool(candidate_text(response))


def enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def raise_if_prompt_blocked(response: types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = enum_name(feedback.block_reason)
        raise EngineRefused(f"Gemini blocked the prompt ({reason})", metadata={"blockReason": reason})


def _retry_info_delay(details: Any) -> float | None:
    """The RetryInfo retryDelay (a proto Duration, "7s" or "1.5s") of an error body, in seconds."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for detail in error.get("details", ()) if isinstance(error, dict) else ():
        if isinstance(detail, dict) and detail.get("@type") == _RETRY_INFO_TYPE:
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match[1])
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, errors.APIError):
        return f"{exc.code} {exc.status}: {exc.message}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"


async def _drain_then_close(stream: AsyncIterator[Any], opened: list[Any], limit: float) -> None:
    """Reads `stream` to its end within `limit` seconds (what it still carries is dropped), then closes it."""
    try:
        async with asyncio.timeout(limit):
            async for _ in stream:
                pass
    except Exception:  # the reply was whole: only the connection's reuse is lost
        logger.debug("the rest of a finished Gemini stream could not be read", exc_info=True)
    finally:
        await _close_stream(stream, opened)


async def _close_stream(stream: AsyncIterator[Any] | None, opened: list[Any]) -> None:
    """Closes a reply's HTTP response now, then the SDK's stream iterator.

    Closing the SDK's iterator alone is not enough: its inner generators form a reference cycle that keeps the
    response open until the garbage collector runs, and after an error event in the stream the SDK does not close
    the response at all. So the responses this call opened are closed directly.
    """
    for response in opened:
        try:
            await response.aclose()
        except Exception:  # closing must not hide the reply's own outcome
            logger.debug("closing a Gemini response failed", exc_info=True)
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()

