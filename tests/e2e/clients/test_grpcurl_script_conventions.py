"""What every script in clients/grpcurl does the same way: `--help` (which never calls the server), the address
from STORYLOOM_ADDR, and a failure told in one readable line (server down, bad key, not found, bad arguments)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from storyloom.v1 import conversation_pb2, conversation_pb2_grpc
from tests.support.paths import ROOT
from tests.support.server import Caller, StoryloomServer

SCRIPTS = ROOT / "clients" / "grpcurl"

# Arguments that make each script call the server: a new script must be added here (checked below).
CALLING_ARGS = {
    "cancel-task.sh": ["tasks/0123"],
    "chat.sh": ["hello"],
    "download-media.sh": ["media/0123", "copy.png"],
    "list-services.sh": [],
    "list-tasks.sh": [],
    "story-create.sh": ["--setting", "the moon"],
    "story-get.sh": ["0123"],
    "story-watch.sh": ["tasks/0123"],
    "upload-media.sh": ["picture.png", "image/png"],
    "watch-task.sh": ["tasks/0123"],
}


async def run(script: str, *args: str, address: str, key: str | None = "some-key",
              cwd: Path | None = None) -> tuple[int, str, str]:
    """Runs a script with STORYLOOM_ADDR=address (and STORYLOOM_API_KEY=key); its exit code, stdout, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYLOOM_")}
    env["STORYLOOM_ADDR"] = address
    if key is not None:
        env["STORYLOOM_API_KEY"] = key
    proc = await asyncio.create_subprocess_exec(str(SCRIPTS / script), *args, env=env, cwd=cwd,
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def refused_address() -> Iterator[str]:
    """An address on which nothing listens: the port is held by a socket that is bound but never listens."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


def test_every_script_is_covered_here():
    assert sorted(p.name for p in SCRIPTS.glob("*.sh") if p.name != "common.sh") == sorted(CALLING_ARGS)


@pytest.mark.parametrize("script", sorted(CALLING_ARGS))
async def test_help_describes_the_script_and_its_settings_without_calling_the_server(script, refused_address):
    for flag in ("--help", "-h"):
        code, out, err = await run(script, *CALLING_ARGS[script], flag, address=refused_address)

        assert (code, err) == (0, ""), err
        assert f"clients/grpcurl/{script}" in out  # the usage line(s) from the script's header
        assert "STORYLOOM_ADDR" in out and refused_address in out and "STORYLOOM_API_KEY" in out
        assert not out.startswith(("#", "!"))  # the comment, not the source


@pytest.mark.parametrize("script", sorted(CALLING_ARGS))
async def test_a_server_that_is_down_is_one_line_naming_the_address_from_storyloom_addr(
        script, refused_address, tmp_path):
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")

    code, out, err = await run(script, *CALLING_ARGS[script], address=refused_address, cwd=tmp_path)

    assert code == 1 and out == ""
    assert err == (f"{script}: cannot reach the server at {refused_address} (connection refused); is it running? "
                   "Start it with `make run`, or set STORYLOOM_ADDR to the address it serves\n")
    assert not (tmp_path / "copy.png").exists()  # download-media.sh leaves no partial file


async def test_chat_help_is_never_sent_as_a_message_but_after_a_double_dash_it_is(
        storyloom_server: StoryloomServer, caller: Caller):
    stub = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)

    code, out, _ = await run("chat.sh", "--help", address=storyloom_server.address, key=caller.key)

    assert code == 0 and "Sends a message to the story assistant" in out
    mine = await stub.ListConversations(conversation_pb2.ListConversationsRequest(parent="users/me"),
                                        metadata=caller.metadata)
    assert list(mine.conversations) == []

    code, _, err = await run("chat.sh", "--", "--help", address=storyloom_server.address, key=caller.key)

    assert code == 0, err
    mine = await stub.ListConversations(conversation_pb2.ListConversationsRequest(parent="users/me"),
                                        metadata=caller.metadata)
    listed = await stub.ListMessages(conversation_pb2.ListMessagesRequest(parent=mine.conversations[0].name),
                                     metadata=caller.metadata)
    assert listed.messages[-1].text == "--help"  # oldest last: the message sent


async def test_a_bad_key_is_one_line_that_says_which_setting_to_check(storyloom_server: StoryloomServer):
    code, out, err = await run("list-tasks.sh", address=storyloom_server.address, key="not-a-key")

    assert code == 64 + 16 and out == ""  # grpcurl's status for UNAUTHENTICATED
    assert err == ("list-tasks.sh: UNAUTHENTICATED (API_KEY_INVALID): The API key is not valid. "
                   "[check STORYLOOM_API_KEY (or the key in data/dev-api-key)]\n")


async def test_a_missing_resource_is_one_line_with_the_code_and_reason(storyloom_server: StoryloomServer,
                                                                       caller: Caller):
    for script, args, name in [("cancel-task.sh", ["tasks/nosuchtask"], "tasks/nosuchtask"),
                               ("story-get.sh", ["nosuchstory"], f"users/{caller.user_id}/stories/nosuchstory"),
                               ("story-watch.sh", ["tasks/nosuchtask"], "tasks/nosuchtask")]:
        code, out, err = await run(script, *args, address=storyloom_server.address, key=caller.key)

        assert code != 0 and out == ""
        assert len(err.splitlines()) == 1 and err.startswith(f"{script}: NOT_FOUND (RESOURCE_NOT_FOUND): "), err
        assert name in err and "Traceback" not in err


async def test_bad_arguments_are_one_line_pointing_to_help(refused_address):
    for script, args, message in [
        ("cancel-task.sh", [], "missing the task name (tasks/ID)"),
        ("chat.sh", [], "missing the message text"),
        ("story-create.sh", ["--scenes", "three"], "--scenes needs a number, not 'three'"),
        ("story-create.sh", ["--colour", "blue"], "unknown flag --colour"),
        ("watch-task.sh", ["tasks/1", "last"], "AFTER_SEQUENCE must be a number, not 'last'"),
    ]:
        code, out, err = await run(script, *args, address=refused_address)

        assert (code, out) == (2, "")
        assert err == f"{script}: {message} (see {script} --help)\n"
