"""The grpcurl scripts in clients/grpcurl, run as a person would against a real server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import time

from storyloom.domain.ports.text import EngineUnavailable, TextDelta
from storyloom.engines.text.offline import OfflineStoryteller
from storyloom.v1 import conversation_pb2, conversation_pb2_grpc
from tests.support import task_kinds
from tests.support.media import png_bytes
from tests.support.paths import ROOT
from tests.support.server import Caller, StoryloomServer, serving, settings_for_tests

SCRIPTS = ROOT / "clients" / "grpcurl"


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


async def chat(server: StoryloomServer, caller: Caller, *args: str) -> tuple[int, list[tuple[float, str]], str]:
    """Runs chat.sh; returns its exit code, its output as it arrived (time.monotonic(), text), and its stderr."""
    env = {**os.environ, "STORYLOOM_ADDR": server.address, "STORYLOOM_API_KEY": caller.key}
    proc = await asyncio.create_subprocess_exec(str(SCRIPTS / "chat.sh"), *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.create_task(proc.stderr.read())
    output = []
    while chunk := await proc.stdout.read(4096):
        output.append((time.monotonic(), chunk.decode()))
    return await proc.wait(), output, (await errors).decode()


async def test_chat_starts_a_conversation_and_prints_the_reply_as_it_streams(storyloom_server, caller):
    engine = storyloom_server.app.text_engine
    assert isinstance(engine, OfflineStoryteller)
    engine.word_delay = 0.04  # a reply takes about a second to write

    code, output, errors = await chat(storyloom_server, caller, "A story about a brave fox named Luna")

    assert code == 0, errors
    conversation = re.search(r"^conversation: (\S+)$", errors, re.M)
    assert conversation and conversation[1].startswith(f"users/{caller.user_id}/conversations/")
    stub = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)
    listed = await stub.ListMessages(conversation_pb2.ListMessagesRequest(parent=conversation[1]),
                                     metadata=caller.metadata)
    reply, sent = listed.messages
    assert sent.text == "A story about a brave fox named Luna"
    assert "".join(text for _, text in output) == reply.text + "\n" and "Luna" in reply.text
    assert len(output) > 3 and output[0][0] < output[-1][0] - 0.5  # printed word by word, not at the end
    assert f"reply: {reply.name}" in errors and "finished: MESSAGE_STATE_COMPLETE FINISH_REASON_STOP" in errors


async def test_chat_goes_on_with_a_conversation_it_is_given(storyloom_server, caller):
    code, _, errors = await chat(storyloom_server, caller, "A story about a dragon")
    assert code == 0, errors
    conversation = re.search(r"^conversation: (\S+)$", errors, re.M)[1]

    code, output, errors = await chat(storyloom_server, caller, 'It lives in a "cloud castle"\nwith its cat',
                                      conversation)

    assert code == 0, errors
    stub = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)
    listed = await stub.ListMessages(conversation_pb2.ListMessagesRequest(parent=conversation),
                                     metadata=caller.metadata)
    assert [m.text for m in listed.messages][1::2] == ['It lives in a "cloud castle"\nwith its cat',
                                                       "A story about a dragon"]
    assert "".join(text for _, text in output) == listed.messages[0].text + "\n"
    mine = await stub.ListConversations(conversation_pb2.ListConversationsRequest(parent="users/me"),
                                        metadata=caller.metadata)
    assert [c.name for c in mine.conversations] == [conversation]


async def test_chat_with_an_unknown_conversation_fails_with_not_found(storyloom_server, caller):
    code, output, errors = await chat(storyloom_server, caller, "hello", "users/me/conversations/nosuchthing")

    assert code != 0 and output == []
    assert errors.splitlines()[-1] == ("chat.sh: NOT_FOUND (RESOURCE_NOT_FOUND): "
                                       f"users/{caller.user_id}/conversations/nosuchthing was not found")


class FailingMidReply(OfflineStoryteller):
    """Writes two words, then fails like an overloaded model."""

    async def chat(self, request):
        yield TextDelta("Once upon ")
        raise EngineUnavailable("The model is overloaded.")


async def test_chat_reports_a_reply_that_fails_midway_on_stderr_and_exits_non_zero(tmp_path):
    async with serving(settings_for_tests(tmp_path / "data"), text_engine=FailingMidReply(word_delay=0)) as server:
        caller = await server.new_caller()

        code, output, errors = await chat(server, caller, "hello")

    assert code == 1
    assert "".join(text for _, text in output) == "Once upon \n"
    assert "error: code 14 ENGINE_UNAVAILABLE: The model is overloaded." in errors
