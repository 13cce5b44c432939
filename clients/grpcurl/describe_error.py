"""Turns what grpcurl wrote on stderr into one line a person can act on (used by common.sh).

    python3 describe_error.py SCRIPT ADDRESS < grpcurl-stderr

grpcurl -format-error writes an error status as google.rpc.Status JSON; failing to connect, or a request it
cannot build, is a line of text. Standard library only: it runs with the system python3.
"""

from __future__ import annotations

import json
import re
import sys

CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
         "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
         "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]


def describe_status(status: dict) -> str:
    """`NOT_FOUND (RESOURCE_NOT_FOUND): tasks/x was not found`, with field violations the message does not already
    say and a retry delay. grpcurl writes the details' fields with proto names (field_violations)."""
    code = status.get("code", 2)
    name = CODES[code] if 0 <= code < len(CODES) else f"code {code}"
    message = status.get("message", "").strip()
    reason, notes = "", []
    for detail in status.get("details", ()):
        reason = reason or detail.get("reason", "")
        for violation in detail.get("field_violations", detail.get("fieldViolations", ())):
            note = f"{violation.get('field', '')}: {violation.get('description', '')}"
            if note not in message:
                notes.append(note)
        delay = detail.get("retry_delay", detail.get("retryDelay"))
        if delay:
            notes.append(f"try again in {delay}")
    if name == "UNAUTHENTICATED":
        notes.append("check STORYLOOM_API_KEY (or the key in data/dev-api-key)")
    head = f"{name} ({reason})" if reason and reason != name else name
    line = f"{head}: {message}" if message else head
    return f"{line} [{'; '.join(notes)}]" if notes else line


def describe(text: str, address: str) -> str:
    start = text.find("{")
    if start != -1:
        try:
            status, _ = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(status, dict) and "code" in status:
                return describe_status(status)
        except ValueError:
            pass
    dial = re.search(r'Failed to dial target host "([^"]*)": (.*)', text)
    if dial:
        cause = dial[2].rsplit(": ", 1)[-1]
        return (f"cannot reach the server at {dial[1]} ({cause}); is it running? Start it with `make run`, "
                f"or set STORYLOOM_ADDR to the address it serves")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) or f"grpcurl failed with no message (server {address})"


def main() -> None:
    script, address = sys.argv[1], sys.argv[2]
    print(f"{script}: {describe(sys.stdin.read(), address)}")


if __name__ == "__main__":
    main()
