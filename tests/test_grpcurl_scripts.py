"""The grpcurl scripts in clients/grpcurl, run as a person would against a real server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

from tests.conftest import Caller, StoryloomServer
from tests.support import task_kinds
from tests.test_media import png_bytes

SCRIPTS = Path(__file__).resolve().parents[1] / "clients" / "grpcurl"


async def run(server: StoryloomServer, caller: Caller, script: str, *args: str) -> str:
    env = {**os.environ, "STORYLOOM_ADDR": server.address, "STORYLOOM_API_KEY": caller.key}
    proc = await asyncio.create_subprocess_exec(str(SCRIPTS / script), *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"{script} failed: {err.decode()}"
    return out.decode()


def json_stream(text: str) -> list[dict]:
    decoder, items, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        item, i = decoder.raw_decode(text, i)
        items.append(item)
    return items


async def test_list_services_shows_the_api_and_health(storyloom_server, caller):
    out = await run(storyloom_server, caller, "list-services.sh")
    assert "storyloom.v1.TaskService" in out and '"status": "SERVING"' in out


async def test_task_scripts_list_watch_and_cancel(storyloom_server, caller):
    done = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 2})
    events = json_stream(await run(storyloom_server, caller, "watch-task.sh", f"tasks/{done.id}"))
    assert events[-1]["state"] == "TASK_STATE_SUCCEEDED" and events[-1]["percent"] == 100
    resumed = json_stream(await run(storyloom_server, caller, "watch-task.sh", f"tasks/{done.id}", "2"))
    assert [int(e["sequence"]) for e in resumed] == [int(e["sequence"]) for e in events[2:]]

    slow = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 50, "delay": 0.2})
    cancelled = json.loads(await run(storyloom_server, caller, "cancel-task.sh", f"tasks/{slow.id}"))
    assert cancelled["state"] == "TASK_STATE_CANCELLED"
    listed = json.loads(await run(storyloom_server, caller, "list-tasks.sh", "10"))
    assert [t["name"] for t in listed["tasks"]] == [f"tasks/{slow.id}", f"tasks/{done.id}"]


async def test_media_scripts_upload_then_download_with_a_verified_sha256(storyloom_server, caller, tmp_path):
    picture = tmp_path / "picture.png"
    picture.write_bytes(png_bytes(200, 200))
    media = json.loads(await run(storyloom_server, caller, "upload-media.sh", str(picture), "image/png"))
    assert media["sha256"] == hashlib.sha256(picture.read_bytes()).hexdigest()
    copy = tmp_path / "copy.png"
    out = await run(storyloom_server, caller, "download-media.sh", media["name"], str(copy))
    assert "verified" in out and copy.read_bytes() == picture.read_bytes()
