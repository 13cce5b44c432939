"""Reading what the gateway answers: Server-Sent Events bodies and JSON errors (a google.rpc.Status as JSON)."""

from __future__ import annotations

import json

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def sse_events(body: str) -> list[dict]:
    """The JSON payloads of a text/event-stream body ("data: {...}" blocks)."""
    events = []
    for block in body.split("\n\n"):
        data = [line[len("data:") :].strip() for line in block.splitlines() if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def the_error_info(status: dict) -> dict:
    """The one ErrorInfo of a JSON status (there must be exactly one, of domain storyloom.v1)."""
    infos = [d for d in status["details"] if d["@type"] == ERROR_INFO]
    assert len(infos) == 1, status
    assert infos[0]["domain"] == "storyloom.v1"
    return infos[0]
