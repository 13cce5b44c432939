"""The servicer context of a call, as the servicers and the interceptor type it."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

# One servicer serves the requests and replies of many methods: its context is typed for any of them.
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
