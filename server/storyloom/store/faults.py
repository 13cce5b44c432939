"""Fault points: named places in a write where a test can have the process killed (SIGKILL, no clean-up), to show
that a crash there leaves nothing half-made. STORYLOOM_FAULT_POINT names the point; unset (always, outside tests)
they do nothing."""

from __future__ import annotations

import os
import signal

ENV = "STORYLOOM_FAULT_POINT"


def fault_point(name: str) -> None:
    """Kills this process at once if STORYLOOM_FAULT_POINT is `name`."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
