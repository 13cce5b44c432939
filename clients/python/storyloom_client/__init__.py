"""Python client for Storyloom: betterproto2 dataclass messages, grpclib async stubs and a thin layer that adds
the API key, default deadlines, AIP-194 retries and re-attaching streams.

    from storyloom_client import StoryloomClient, v1

    async with StoryloomClient("127.0.0.1:50051", api_key) as client:
        story = await client.stories.get_story(v1.GetStoryRequest(name="users/me/stories/ID"))
"""

from . import v1
from .bundles import Bundle, BundleFile, verify_bundle
from .client import (
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
    IDEMPOTENT_METHODS,
    TERMINAL_TASK_STATES,
    RetryPolicy,
    StoryloomClient,
)
from .errors import ChecksumMismatch, Status, StoryloomError
from .generated.google.api import HttpBody

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "TERMINAL_TASK_STATES",
    "Bundle",
    "BundleFile",
    "ChecksumMismatch",
    "HttpBody",
    "RetryPolicy",
    "Status",
    "StoryloomClient",
    "StoryloomError",
    "v1",
    "verify_bundle",
]
