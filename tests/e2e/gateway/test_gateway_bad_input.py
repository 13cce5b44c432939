"""Bad input and quotas through REST: the reproductions of issue 10, each a 4xx with exactly one ErrorInfo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.conftest import Caller, StoryloomServer, serving, settings_for_tests
from tests.support import task_kinds
from tests.support.gateway import the_error_info

TASK_LIMIT = 1
MESSAGES_PER_MINUTE = 2


@pytest_asyncio.fixture
async def storyloom_server(tmp_path: Path) -> AsyncIterator[StoryloomServer]:
    async with serving(settings_for_tests(tmp_path / "data", max_live_tasks_per_user=TASK_LIMIT,
                                         messages_per_minute=MESSAGES_PER_MINUTE)) as server:
        yield server


@pytest.mark.parametrize("path", ["/v1/tasks?pageToken=%ff%fe", "/v1/tasks/%C0%AE"])
async def test_a_request_that_does_not_decode_is_a_400_malformed_request(http, key, path) -> None:
    answer = await http.get(path, headers=key)
    assert answer.status_code == 400, answer.text
    assert the_error_info(answer.json())["reason"] == "MALFORMED_REQUEST"
    assert "DecodeError" not in answer.text


async def test_a_title_with_a_nul_is_a_400(http, key) -> None:
    answer = await http.post("/v1/users/me/conversations", headers=key, json={"title": "a\u0000b"})
    assert answer.status_code == 400, answer.text
    assert the_error_info(answer.json())["reason"] == "TITLE_CHARACTERS_INVALID"


async def test_an_oversize_name_is_a_400_quoting_at_most_200_characters(http, key) -> None:
    answer = await http.get("/v1/tasks/" + "x" * 3000, headers=key)
    assert answer.status_code == 400, answer.text
    assert the_error_info(answer.json())["reason"] == "RESOURCE_NAME_INVALID"
    assert "x" * 201 not in answer.text


async def test_a_story_over_the_task_limit_is_a_429_with_error_info_and_retry_after(
        http, key, storyloom_server: StoryloomServer, caller: Caller) -> None:
    await storyloom_server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 1000, "delay": 1})
    answer = await http.post("/v1/users/me/stories", headers=key,
                             json={"text": "A fox finds a lantern.", "skipIllustrations": True})
    assert answer.status_code == 429, answer.text
    assert the_error_info(answer.json())["reason"] == "TASK_LIMIT_EXCEEDED"
    assert answer.headers["retry-after"] == "30"
    assert any(d["@type"].endswith("google.rpc.RetryInfo") for d in answer.json()["details"])


async def test_headers_grpc_cannot_carry_are_dropped_not_an_internal_error(http, key) -> None:
    # Found by the REST fuzzer: the server refused "6!" as a metadata key ("Illegal header key"), and REST got 500.
    answer = await http.get("/v1/tasks", headers={**key, "6!": "x", "o0": "tab\there", "x~y": "1"})
    assert answer.status_code == 200, answer.text


async def test_every_rate_limited_message_is_a_429_with_error_info_and_retry_after(http, key) -> None:
    created = await http.post("/v1/users/me/conversations", headers=key, json={"title": "burst"})
    name = created.json()["name"]

    async def send(i: int) -> httpx.Response:
        return await http.post(f"/v1/{name}:sendMessage", headers=key, json={"text": f"hello {i}"})

    answers = await asyncio.gather(*(send(i) for i in range(MESSAGES_PER_MINUTE + 5)))
    refused = [a for a in answers if a.status_code != 200]
    assert len(refused) == 5, [a.status_code for a in answers]
    for answer in refused:
        assert answer.status_code == 429, answer.text
        assert the_error_info(answer.json())["reason"] == "RATE_LIMIT_EXCEEDED"
        assert int(answer.headers["retry-after"]) >= 1
