"""Gemini engines pointed at the wire fake, with deadlines and retries sized for tests."""

from __future__ import annotations

from typing import Any

from storyloom.engines.gemini_client import GeminiConnection, GeminiRetryPolicy, GeminiTimeouts
from storyloom.engines.text.gemini import GeminiTextEngine
from tests.support.gemini_fake import GeminiFake

FAST = GeminiTimeouts(first_chunk=1.0, idle=0.5, total=5.0)
QUICK_RETRIES = GeminiRetryPolicy(attempts=3, initial_backoff=0.1, max_backoff=0.5)
# For a whole server under test: generous deadlines, so a loaded machine does not time out a healthy reply.
SERVER_TIMEOUTS = GeminiTimeouts(first_chunk=5.0, idle=5.0, total=20.0)


def connect(fake: GeminiFake, *, api_version: str = "v1beta",
            retry: GeminiRetryPolicy = QUICK_RETRIES) -> GeminiConnection:
    """A connection to the fake, with the test key."""
    return GeminiConnection("test-key", base_url=fake.base_url, api_version=api_version, retry=retry)


def text_engine(fake: GeminiFake, *, timeouts: GeminiTimeouts = FAST, retry: GeminiRetryPolicy = QUICK_RETRIES,
                **options: Any) -> GeminiTextEngine:
    return GeminiTextEngine(connect(fake, retry=retry), timeouts=timeouts, **options)
