"""The Python client (betterproto2 + grpclib) against the real grpcio server: unary and streaming interop, the call
policy (API key, deadlines, AIP-194 retries), rich errors, and streams that re-attach after a dropped connection."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import io
import re
import sys
import uuid

import pytest
from google.protobuf import descriptor_pb2

from storyloom.v1 import conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2
from storyloom_client import (
    IDEMPOTENT_METHODS,
    ChecksumMismatch,
    RetryPolicy,
    Status,
    StoryloomClient,
    StoryloomError,
    v1,
)
from tests.support import task_kinds
from tests.support.clients import FAST_RETRY
from tests.support.media import png_bytes
from tests.support.paths import ROOT

LUNA = v1.StoryRequirements(title="Luna and the Lost Star", setting="an enchanted forest",
                            characters=[v1.Character(name="Luna", description="a brave little fox")],
                            tone=v1.StoryTone.HEARTWARMING)


def test_the_retried_methods_are_exactly_those_the_contract_marks_free_of_side_effects():
    marked = set()
    for module in (conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                level = method.GetOptions().idempotency_level
                if level in (descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS, descriptor_pb2.MethodOptions.IDEMPOTENT):
                    marked.add(f"/{service.full_name}/{method.name}")
    assert marked and marked == IDEMPOTENT_METHODS


async def test_unary_calls_and_a_task_stream_work_from_grpclib_to_the_grpcio_server(client):
    task = await client.create_story(LUNA, scene_count=1, skip_illustrations=True, skip_narration=True)
    assert task.name.startswith("tasks/") and task.kind == "story.create"
    assert isinstance(task.create_time, datetime.datetime)

    events = [e async for e in client.watch_task(task.name)]

    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].state is v1.TaskState.SUCCEEDED and events[-1].percent == 100
    assert "premise" in [e.stage for e in events]
    story = client.story_of(events[-1])
    assert story is not None and story.name == task.target and story.state is v1.StoryState.READY
    fetched = await client.stories.get_story(v1.GetStoryRequest(name=task.target))
    assert fetched == story and "Luna" in fetched.scenes[0].text
    assert fetched.scenes[0].narration_state is v1.AssetState.SKIPPED and fetched.scenes[0].picture is None
    listed = await client.tasks.list_tasks(v1.ListTasksRequest(kind="story.create"))
    assert [t.name for t in listed.tasks] == [task.name]


async def test_a_chat_reply_streams_word_by_word_and_equals_the_stored_message(storyloom_server, client):
    storyloom_server.app.text_engine.word_delay = 0.02
    conversation = await client.create_conversation("Luna")

    arrivals = []
    async for event in client.chat(conversation.name, "I want a story about a brave fox named Luna"):
        arrivals.append((asyncio.get_running_loop().time(), event))
    events = [e for _, e in arrivals]

    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].accepted is not None and events[0].accepted.user_message.role is v1.MessageRole.USER
    deltas = [e for e in events if e.delta is not None]
    assert len(deltas) > 3 and arrivals[-1][0] - arrivals[1][0] > 0.1  # streamed, not one blob
    finished = events[-1].finished
    assert finished is not None and finished.message.state is v1.MessageState.COMPLETE
    assert finished.message.text == "".join(d.delta.text for d in deltas) and "Luna" in finished.message.text
    stored = await client.conversations.list_messages(v1.ListMessagesRequest(parent=conversation.name))
    assert stored.messages[0] == finished.message


async def test_watch_task_re_attaches_after_a_dropped_connection_without_gaps_or_duplicates(
        storyloom_server, caller, proxy):
    task = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 12, "delay": 0.05})
    reconnects: list[int] = []
    events = []
    async with StoryloomClient(proxy.address, caller.key, retry=FAST_RETRY) as client:
        async for event in client.watch_task(f"tasks/{task.id}", on_reconnect=lambda _, last: reconnects.append(last)):
            events.append(event)
            if len(events) in (3, 7):
                proxy.cut()  # the stream breaks under the client twice

        assert reconnects == [3, 7] and proxy.accepted == 3
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert events[-1].state is v1.TaskState.SUCCEEDED and events[-1].percent == 100
        # The same as one uninterrupted watch of the log.
        replay = [e async for e in client.watch_task(f"tasks/{task.id}")]
        assert [(e.sequence, e.stage, e.percent) for e in events] == [(e.sequence, e.stage, e.percent) for e in replay]


async def test_watch_task_started_mid_log_resumes_from_the_given_sequence(storyloom_server, caller, client):
    task = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 3})
    everything = [e async for e in client.watch_task(f"tasks/{task.id}")]
    later = [e async for e in client.watch_task(f"tasks/{task.id}", after_sequence=2)]
    assert [e.sequence for e in later] == [e.sequence for e in everything[2:]]


async def test_chat_re_attaches_with_stream_reply_after_a_dropped_connection(storyloom_server, caller, proxy):
    storyloom_server.app.text_engine.word_delay = 0.02
    reconnects: list[int] = []
    async with StoryloomClient(proxy.address, caller.key, retry=FAST_RETRY) as client:
        conversation = await client.create_conversation()
        events = []
        async for event in client.chat(conversation.name, "Tell me a story about a kind dragon named Pip",
                                       on_reconnect=lambda _, last: reconnects.append(last)):
            events.append(event)
            if len(events) == 4:
                proxy.cut()

        assert reconnects == [4]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        finished = events[-1].finished
        assert finished is not None and finished.message.text == "".join(e.delta.text for e in events if e.delta)
        messages = await client.conversations.list_messages(v1.ListMessagesRequest(parent=conversation.name))
        assert len(messages.messages) == 2  # the message was stored once


async def test_a_download_is_verified_and_resumes_from_its_offset_after_a_drop(caller, proxy):
    data = png_bytes(400, 400, seed=7)  # ~480 KB: several 64 KiB chunks

    class CutAfterFirstChunk(io.BytesIO):
        def write(self, chunk):  # type: ignore[override]
            if self.tell() == 0:
                proxy.cut()
            return super().write(chunk)

    async with StoryloomClient(proxy.address, caller.key, retry=FAST_RETRY) as client:
        media = await client.upload_media(data, "image/png")
        out = CutAfterFirstChunk()
        info = await client.download_media(media.name, out)

    assert out.getvalue() == data and info.sha256 == hashlib.sha256(data).hexdigest()
    assert proxy.cuts == 1 and proxy.accepted >= 2


async def test_a_download_whose_bytes_differ_from_the_announced_sha256_is_refused(storyloom_server, client, tmp_path):
    data = png_bytes(64, 64, seed=3)
    media = await client.upload_media(data, "image/png")
    blob = storyloom_server.app.media._blobs.path(media.sha256)
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")  # bit rot on the server's disk

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(ChecksumMismatch) as mismatch:
        await client.download_media_to(media.name, downloads / "copy.png")
    assert mismatch.value.code is Status.DATA_LOSS and media.sha256 in str(mismatch.value)
    assert list(downloads.iterdir()) == []  # no partial file left behind


async def test_errors_carry_the_status_reason_and_field_violations(storyloom_server, client):
    with pytest.raises(StoryloomError) as invalid:
        await client.create_story(v1.StoryRequirements(title="x" * 201))
    assert invalid.value.code is Status.INVALID_ARGUMENT and invalid.value.reason
    assert [v.field for v in invalid.value.field_violations] == ["requirements.title"]
    assert "requirements.title" in invalid.value.describe()

    with pytest.raises(StoryloomError) as missing:
        await client.stories.get_story(v1.GetStoryRequest(name="users/me/stories/nosuchstory"))
    assert missing.value.code is Status.NOT_FOUND and missing.value.reason == "RESOURCE_NOT_FOUND"
    assert str(missing.value).startswith("NOT_FOUND (RESOURCE_NOT_FOUND): ")

    async with StoryloomClient(storyloom_server.address, "sl_not_a_key") as stranger:
        with pytest.raises(StoryloomError) as refused:
            await stranger.tasks.list_tasks(v1.ListTasksRequest())
    assert refused.value.code is Status.UNAUTHENTICATED and refused.value.reason == "API_KEY_INVALID"


async def test_unavailable_is_retried_for_calls_without_side_effects_only(storyloom_server, caller, proxy):
    task = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 50, "delay": 0.1})
    async with StoryloomClient(proxy.address, caller.key, retry=FAST_RETRY) as client:
        proxy.refuse = 2
        got = await client.tasks.get_task(v1.GetTaskRequest(name=f"tasks/{task.id}"))
        assert got.name == f"tasks/{task.id}" and proxy.accepted == 3

        client.close()  # a fresh connection for each case
        proxy.refuse, proxy.accepted = 1, 0
        with pytest.raises(StoryloomError) as unavailable:
            await client.tasks.cancel_task(v1.CancelTaskRequest(name=f"tasks/{task.id}"))
        assert unavailable.value.code is Status.UNAVAILABLE and proxy.accepted == 1  # tried once

        client.close()
        proxy.refuse, proxy.accepted = 1, 0
        request_id = str(uuid.uuid4())
        created = await client.create_story(LUNA, scene_count=1, skip_illustrations=True, skip_narration=True,
                                            request_id=request_id)
        assert proxy.accepted == 2  # a request_id makes a creating call safe to repeat (AIP-155)
        again = await client.create_story(LUNA, scene_count=1, skip_illustrations=True, skip_narration=True,
                                          request_id=request_id)
        assert again.name == created.name


async def test_unary_calls_have_a_default_deadline_and_streams_none(storyloom_server, caller, proxy):
    proxy.hold = True
    async with StoryloomClient(proxy.address, caller.key, timeout=0.3, retry=FAST_RETRY) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(StoryloomError) as late:
            await client.tasks.list_tasks(v1.ListTasksRequest())
        assert late.value.code is Status.DEADLINE_EXCEEDED
        assert asyncio.get_running_loop().time() - started < 10  # the 0.3 s deadline, not a hang

    task = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 4, "delay": 0.2})
    async with StoryloomClient(storyloom_server.address, caller.key, timeout=0.3) as client:
        final = await client.wait_task(f"tasks/{task.id}")  # 0.8 s of streaming under a 0.3 s unary deadline
    assert final.state is v1.TaskState.SUCCEEDED


async def test_an_unreachable_server_is_unavailable_after_the_retries(caller, proxy):
    await proxy.close()
    async with StoryloomClient(proxy.address, caller.key, retry=FAST_RETRY) as client:
        with pytest.raises(StoryloomError) as down:
            await client.tasks.list_tasks(v1.ListTasksRequest())
    assert down.value.code is Status.UNAVAILABLE and proxy.address in down.value.message


async def test_the_readme_example_runs_as_written(storyloom_server, caller, tmp_path):
    readme = (ROOT / "clients" / "python" / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S)[1]
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "dev-api-key").write_text(caller.key + "\n")
    code = example.replace('"127.0.0.1:50051"', repr(storyloom_server.address))
    assert code != example  # it still names the address `make run` serves

    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)

    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert "Luna" in lines[0] and any(re.match(r"100% done", line.strip()) for line in lines)
    assert (tmp_path / "story.md").read_text().startswith("# ")
    assert lines[-2].count("-thumbnail.png") == 3  # the bundle's pictures, checked against its manifest
    assert (tmp_path / "story.zip").stat().st_size > 0 and (tmp_path / "story.epub").read_bytes()[:2] == b"PK"
    pictures = sorted(p.name for p in tmp_path.glob("scene-*.png"))
    assert pictures == ["scene-0.png", "scene-1.png", "scene-2.png"]
    assert all((tmp_path / p).read_bytes().startswith(b"\x89PNG") for p in pictures)


# A policy whose first wait would outlast the tests' deadline: a helper that re-attaches fails the test.
NO_PATIENCE = RetryPolicy(max_attempts=2, initial_backoff=30.0, max_backoff=30.0)


async def collected(events, within: float = 10.0) -> list:
    async def drain() -> list:
        return [event async for event in events]
    return await asyncio.wait_for(drain(), within)


async def test_watching_a_finished_task_from_its_end_returns_at_once_without_re_attaching(
        storyloom_server, caller):
    task = await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 3})
    name = f"tasks/{task.id}"
    reconnects: list[int] = []
    async with StoryloomClient(storyloom_server.address, caller.key, reattach=NO_PATIENCE) as client:
        final = await client.wait_task(name)
        last = final.sequence

        # The server ends these streams cleanly with nothing to send: that is the end, not a drop.
        assert await collected(client.watch_task(name, after_sequence=last,
                                                 on_reconnect=lambda _, seen: reconnects.append(seen))) == []
        assert await collected(client.watch_task(name, after_sequence=last + 10)) == []
        # One short of the end yields exactly the terminal event.
        tail = await collected(client.watch_task(name, after_sequence=last - 1))
        assert [(e.sequence, e.state) for e in tail] == [(last, v1.TaskState.SUCCEEDED)]
    assert reconnects == []


async def test_re_attaching_to_a_finished_reply_from_its_end_returns_at_once_without_re_attaching(
        storyloom_server, caller):
    reconnects: list[int] = []
    async with StoryloomClient(storyloom_server.address, caller.key, reattach=NO_PATIENCE) as client:
        conversation = await client.create_conversation()
        events = await collected(client.chat(conversation.name, "A story about an owl named Hoot"))
        reply, last = events[-1].reply, events[-1].sequence
        assert events[-1].finished is not None

        assert await collected(client.stream_reply(reply, after_sequence=last,
                                                   on_reconnect=lambda _, seen: reconnects.append(seen))) == []
        assert await collected(client.stream_reply(reply, after_sequence=last + 10)) == []
        tail = await collected(client.stream_reply(reply, after_sequence=last - 1))
        assert [e.sequence for e in tail] == [last] and tail[0].finished == events[-1].finished
        everything = await collected(client.stream_reply(reply))
        assert [e.sequence for e in everything] == [e.sequence for e in events]
    assert reconnects == []
