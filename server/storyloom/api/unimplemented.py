"""Servicers for services whose contracts exist but whose features have not landed yet.

They answer UNIMPLEMENTED with the same rich status as every other error, so clients can code
against the final contract today.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor

from storyloom.domain.errors import Unimplemented


def unimplemented_servicer(base: type, service: ServiceDescriptor) -> Any:
    methods: dict[str, Any] = {}
    for method in service.methods:
        error = Unimplemented(f"{service.name}.{method.name} is not available yet.",
                              metadata={"method": method.full_name})
        if method.server_streaming:
            async def stream(self: Any, request: Any, context: Any, _error: Unimplemented = error) -> AsyncIterator[Any]:
                raise _error
                yield  # makes this an async generator, like every streaming handler
            methods[method.name] = stream
        else:
            async def unary(self: Any, request: Any, context: Any, _error: Unimplemented = error) -> Any:
                raise _error
            methods[method.name] = unary
    return type(f"Unimplemented{service.name}", (base,), methods)()
