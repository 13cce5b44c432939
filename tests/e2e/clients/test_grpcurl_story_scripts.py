"""The story scripts in clients/grpcurl (story-create.sh, story-watch.sh, story-get.sh), run as a person would
against the real server, including a watch that loses its connection."""

from __future__ import annotations

import asyncio
import json
import os
import re

from storyloom.domain.tasks import TaskContext, TaskResult
from storyloom_client import v1
from tests.support.paths import ROOT
from tests.support.server import Caller

SCRIPTS = ROOT / "clients" / "grpcurl"
# "[ 33%] scenes        Writing scene 1 of 3.  (about 12 s left)": percent, stage, message, the estimate if any.
LINE = re.compile(r"^\[\s*(\d+)%\] (\S+)\s+(.*?)(?:  \((about \d+ (?:s|min) left|almost done)\))?$")


async def script(address: str, caller: Caller, name: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "STORYLOOM_ADDR": address, "STORYLOOM_API_KEY": caller.key}
    proc = await asyncio.create_subprocess_exec(str(SCRIPTS / name), *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_create_watch_and_get_a_story_from_flags(storyloom_server, caller, client):
    code, out, err = await script(storyloom_server.address, caller, "story-create.sh", "--character",
                                  "Luna: a brave little fox", "-c", "Pip", "--setting", "an enchanted forest",
                                  "--tone", "heartwarming", "--title", 'The "Lost" Star', "--scenes", "2",
                                  "--no-narration", "--no-pictures")
    assert code == 0, err
    task = json.loads(out)
    assert task["name"].startswith("tasks/") and task["kind"] == "story.create" and task["target"]

    code, out, err = await script(storyloom_server.address, caller, "story-watch.sh", task["name"])

    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == f"succeeded: {task['target']}"
    log = [e async for e in client.watch_task(task["name"])]
    shown = [LINE.match(x) for x in lines[:-1]]
    assert [(int(m[1]), m[3]) for m in shown] == [(e.percent, e.message) for e in log]
    assert "premise" in [m[2] for m in shown] and shown[-1][1] == "100"
    # Each event the server estimated shows the time left; terminal events show none.
    for match, event in zip(shown, log, strict=True):
        estimated = event.estimated_remaining is not None or event.estimated_completion_time is not None
        assert (match[4] is not None) == (estimated and event.state in (v1.TaskState.PENDING, v1.TaskState.RUNNING))
    # Text alone takes well under a second, and the estimate (learned stage costs) may say so throughout.
    assert any(m[4] and (m[4].endswith(" s left") or m[4] == "almost done") for m in shown), lines

    code, out, err = await script(storyloom_server.address, caller, "story-get.sh", task["target"].rsplit("/", 1)[1])
    assert code == 0, err
    story = json.loads(out)
    assert story["name"] == task["target"] and story["title"] == 'The "Lost" Star'
    assert story["state"] == "STORY_STATE_READY" and len(story["scenes"]) == 2
    assert [c["name"] for c in story["requirements"]["characters"]] == ["Luna", "Pip"]
    assert story["requirements"]["tone"] == "STORY_TONE_HEARTWARMING"


async def test_story_watch_takes_a_story_name_and_fails_for_a_cancelled_story(storyloom_server, caller, client):
    task = await client.create_story(v1.StoryRequirements(setting="the moon"), scene_count=8, skip_narration=True)
    await client.tasks.cancel_task(v1.CancelTaskRequest(name=task.name))

    code, out, err = await script(storyloom_server.address, caller, "story-watch.sh", task.target)

    assert code == 1 and out.splitlines()[-1].startswith("[")
    assert err.strip().startswith("cancelled: ")


async def test_story_watch_re_attaches_after_a_dropped_connection(storyloom_server, caller, client, proxy):
    # A story's task that waits, after two steps, until the test has cut the connection: so the cut comes while it
    # runs however slowly grpcurl starts on a loaded machine (a real story may end before the third line is read).
    target = f"users/{caller.user_id}/stories/held"
    cut = asyncio.Event()

    async def held_story(ctx: TaskContext) -> TaskResult:
        for step in range(1, 6):
            if step == 3:
                await cut.wait()
            await ctx.progress(stage="scenes", percent=step * 15, message=f"Writing scene {step} of 5.")
        return TaskResult("storyloom.v1.Story", v1.Story(name=target).SerializeToString())

    storyloom_server.app.tasks.register("test.held_story", held_story)
    submitted = await storyloom_server.app.tasks.submit(caller.user_id, "test.held_story", target=target)
    name = f"tasks/{submitted.id}"
    env = {**os.environ, "STORYLOOM_ADDR": proxy.address, "STORYLOOM_API_KEY": caller.key}
    proc = await asyncio.create_subprocess_exec(str(SCRIPTS / "story-watch.sh"), name, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.create_task(proc.stderr.read())
    lines = []
    while line := (await asyncio.wait_for(proc.stdout.readline(), 120)).decode():
        lines.append(line.rstrip("\n"))
        if len(lines) == 3:
            proxy.cut()
            cut.set()
    code, err = await proc.wait(), (await errors).decode()

    assert code == 0, err
    log = [e async for e in client.watch_task(name)]
    resumed = re.fullmatch(r"connection lost; re-attaching after event (\d+)\n", err)
    assert resumed and 3 <= int(resumed[1]) < log[-1].sequence, err  # it had not seen the end when cut
    assert [LINE.match(x)[3] for x in lines[:-1]] == [e.message for e in log]  # every event exactly once
    assert lines[-1] == f"succeeded: {target}"


async def test_story_create_refuses_an_unknown_flag_and_reports_server_errors(storyloom_server, caller):
    code, out, err = await script(storyloom_server.address, caller, "story-create.sh", "--colour", "blue")
    assert code != 0 and "unknown flag --colour" in err and out == ""

    code, out, err = await script(storyloom_server.address, caller, "story-create.sh", "--scenes", "50",
                                  "--setting", "space")
    assert code != 0 and err == ("story-create.sh: INVALID_ARGUMENT: scene_count: must be from 1 to 12, "
                                 "or 0 for the default\n")
