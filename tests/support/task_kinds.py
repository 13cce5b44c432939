"""Task kinds the tests register: a resumable step counter with controllable speed and failure.

Also usable as a server plugin (STORYLOOM_PLUGINS=tests.support.task_kinds) for tests that run
the server as a separate process.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from google.protobuf import struct_pb2

from storyloom.domain.errors import FailedPrecondition
from storyloom.domain.tasks import TaskContext, TaskResult

STEPS = "test.steps"
ONE_SHOT = "test.one_shot"  # not resumable: a restart fails it


async def run_steps(ctx: TaskContext) -> TaskResult:
    """Counts to params.steps, one step per params.delay seconds, checkpointing after each.

    The result records which steps each attempt ran, so tests can prove that nothing
    finished before a crash is done again. With params.hold_at, the first attempt stops after that step
    and waits for ever: a test can kill the server there however slow the machine is.
    """
    steps = int(ctx.params.get("steps", 5))
    delay = float(ctx.params.get("delay", 0.01))
    fail_at = ctx.params.get("fail_at")
    done = int(ctx.checkpoint.get("done", 0))
    ran: list[Any] = list(ctx.checkpoint.get("ran", []))
    for step in range(done + 1, steps + 1):
        await asyncio.sleep(delay)
        if fail_at is not None and step == int(fail_at):
            raise FailedPrecondition(f"step {step} failed on purpose", reason="TEST_STEP_FAILED",
                                     metadata={"step": str(step)})
        if ctx.params.get("trace"):  # what ran where and when, written outside the task's fence
            with open(str(ctx.params["trace"]), "a") as trace:
                trace.write(f"{os.getpid()} {ctx.attempt} {step} {time.time()}\n")
        ran.append([ctx.attempt, step])
        await ctx.progress(stage=f"step-{step}", percent=step * 100 // steps, message=f"Step {step} of {steps}.",
                           checkpoint={"done": step, "ran": ran})
        if ctx.attempt == 1 and step == ctx.params.get("hold_at"):
            await asyncio.Event().wait()
    result = struct_pb2.Struct()
    result.update({"steps": steps, "ran": ran})
    return TaskResult("google.protobuf.Struct", result.SerializeToString())


async def run_one_shot(ctx: TaskContext) -> TaskResult:
    await ctx.progress(stage="working", percent=10, message="Working.")
    await asyncio.sleep(float(ctx.params.get("delay", 60)))
    return TaskResult("google.protobuf.Struct", struct_pb2.Struct().SerializeToString())


def register(app: Any) -> None:
    app.tasks.register(STEPS, run_steps)
    app.tasks.register(ONE_SHOT, run_one_shot, resumable=False)
