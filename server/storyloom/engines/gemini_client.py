"""What the Gemini engines share: one unary `generate_content` call under the text engine's retry discipline.

The connection is a `GeminiTextEngine`: its google-genai client (our own httpx client, SDK retries off), its
deadlines (`GeminiTimeouts`), its retry policy (`GeminiRetryPolicy`: exponential backoff with jitter, honouring a
429's RetryInfo delay, within the total deadline) and its error classification (429 -> EngineRateLimited, other
retryable failures -> EngineUnavailable, ENGINE_TIMEOUT for deadlines; other 4xx are not retried). Other engines
(images) build one with their own model and deadlines and call `generate_content` here, so the rules live in one
place. The text engine's own unary calls (`_generate`) follow the same loop and can move onto this function.
"""

from __future__ import annotations

import asyncio
import logging

from google.genai import types

from storyloom.engines.text.base import EngineRefused
from storyloom.engines.text.gemini import (_SAFETY_FINISH_REASONS, GeminiTextEngine, _AttemptFailed, _enum_name,
                                           _Failure, _raise_if_prompt_blocked)

logger = logging.getLogger(__name__)


async def generate_content(connection: GeminiTextEngine, contents: list[types.Content],
                           config: types.GenerateContentConfig, *, purpose: str) -> types.GenerateContentResponse:
    """One unary call on `connection.model`, retried by the connection's policy; returns the whole response.

    Each attempt is bounded by `timeouts.first_chunk` (the whole answer of a unary call), all of them together by
    `timeouts.total`. Raises EngineRefused when the prompt is blocked or the reply was stopped for safety,
    EngineRateLimited when the quota stays exhausted, EngineUnavailable for the rest.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + connection.timeouts.total
    attempt = 0
    while True:
        attempt += 1
        limit = min(connection.timeouts.first_chunk, deadline - loop.time())
        try:
            try:
                async with asyncio.timeout(limit):
                    response = await connection._client.aio.models.generate_content(
                        model=connection.model, contents=contents, config=config)
            except TimeoutError as exc:
                raise _AttemptFailed(_Failure(
                    "timeout", f"Gemini did not answer the {purpose} request within {limit:.3g} s", retryable=True,
                    metadata={"model": connection.model, "timeoutSeconds": f"{limit:.3g}"})) from exc
            except Exception as exc:
                raise _AttemptFailed(connection._classify(exc)) from exc
        except _AttemptFailed as failed:
            delay = connection._retry_delay(failed.failure, attempt, False, deadline)
            if delay is None:
                raise failed.failure.error(connection._retry_after(failed.failure, attempt)) from failed.__cause__
            logger.info("Gemini %s %s request failed (%s), attempt %d of %d; retrying in %.2f s", connection.model,
                        purpose, failed.failure.message, attempt, connection.retry.attempts, delay)
            await asyncio.sleep(delay)
            continue
        _raise_if_prompt_blocked(response)
        finish = finish_reason(response)
        if finish in _SAFETY_FINISH_REASONS:
            raise EngineRefused(f"Gemini blocked the {purpose} reply ({finish})",
                                metadata={"model": connection.model, "finishReason": finish})
        return response


def finish_reason(response: types.GenerateContentResponse) -> str | None:
    """The first candidate's finish reason as its enum name ("STOP", "IMAGE_SAFETY"...), or None."""
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None or candidate.finish_reason is None:
        return None
    return _enum_name(candidate.finish_reason)
