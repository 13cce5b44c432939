"""Chat over REST and Server-Sent Events, through the real Envoy gateway in front of the real server (offline
storyteller): create a conversation, send messages and read their replies as SSE, re-attach to a reply, list the
messages, extract the requirements, and the errors a web client meets (429 with RetryInfo, 404, 400). Then replies
over SSE with Gemini (the strict wire fake, tests/support/gemini_fake.py) as the engine.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from storyloom.engines.text.offline import OfflineStoryteller
from tests.support.gateway import BAD_REQUEST, StartGateway, sse_events, the_error_info
from tests.support.gemini_engines import QUICK_RETRIES, SERVER_TIMEOUTS, text_engine
from tests.support.gemini_fake import GeminiFake, Stream, chunk, error_body
from tests.support.server import StoryloomServer, serving, settings_for_tests

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


@pytest.fixture
def slow_words(storyloom_server: StoryloomServer) -> float:
    """Makes the offline storyteller pause 40 ms after each word, so a reply takes about a second to write."""
    engine = storyloom_server.app.text_engine
    assert isinstance(engine, OfflineStoryteller)
    engine.word_delay = 0.04
    return engine.word_delay


async def create_conversation(http: httpx.AsyncClient, key: dict[str, str], title: str = "") -> dict:
    response = await http.post("/v1/users/me/conversations", json={"title": title} if title else {}, headers=key)
    assert response.status_code == 200, response.text
    return response.json()


async def read_events(response: httpx.Response, stop_after: int | None = None) -> list[tuple[float, dict]]:
    """The SSE events of a streaming response as they arrive, each with its time.monotonic(); stops reading after
    `stop_after` events."""
    events: list[tuple[float, dict]] = []
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        *blocks, buffer = buffer.split("\n\n")
        for block in blocks:
            for event in sse_events(block + "\n\n"):
                events.append((time.monotonic(), event))
                if stop_after is not None and len(events) >= stop_after:
                    return events
    return events


async def send(http: httpx.AsyncClient, key: dict[str, str], conversation: str, text: str) -> list[dict]:
    async with http.stream("POST", f"/v1/{conversation}:sendMessage", json={"text": text}, headers=key) as response:
        assert response.status_code == 200
        return [event for _, event in await read_events(response)]


def kinds(events: list[dict]) -> list[str]:
    return [next(k for k in ("accepted", "delta", "finished", "error") if k in e) for e in events]


def text_of(events: list[dict]) -> str:
    return "".join(e["delta"]["text"] for e in events if "delta" in e)


def sequences(events: list[dict]) -> list[int]:
    return [int(e["sequence"]) for e in events]


# --- the chat ------------------------------------------------------------------------------------------------------


async def test_a_rest_post_creates_a_conversation_for_the_caller(http, caller, key):
    created = await create_conversation(http, key, title="Bedtime")

    assert created["name"].startswith(f"users/{caller.user_id}/conversations/")
    assert created["title"] == "Bedtime"
    assert created["status"] == "CONVERSATION_STATUS_ACTIVE" and created["messageCount"] == 0
    got = await http.get(f"/v1/{created['name']}", headers=key)
    assert got.status_code == 200 and got.json() == created


async def test_a_message_streams_its_reply_as_server_sent_events_as_it_is_written(http, key, slow_words):
    conversation = (await create_conversation(http, key))["name"]

    async with http.stream("POST", f"/v1/{conversation}:sendMessage",
                           json={"text": "A story about a brave fox named Luna"}, headers=key) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        timed = await read_events(response)

    events = [event for _, event in timed]
    assert sequences(events) == list(range(1, len(events) + 1))
    assert kinds(events)[0] == "accepted" and kinds(events)[-1] == "finished"
    assert set(kinds(events)[1:-1]) == {"delta"} and len(events) > 5
    assert events[0]["accepted"]["userMessage"]["text"] == "A story about a brave fox named Luna"
    assert events[0]["accepted"]["userMessage"]["role"] == "MESSAGE_ROLE_USER"
    message = events[-1]["finished"]["message"]
    assert message["text"] == text_of(events) and "Luna" in message["text"]
    assert message["state"] == "MESSAGE_STATE_COMPLETE" and message["finishReason"] == "FINISH_REASON_STOP"
    # Each delta was passed on as it was written, not buffered until the reply was done.
    delta_times = [at for at, event in timed if "delta" in event]
    assert delta_times[0] < delta_times[-1] - 5 * slow_words
    listed = await http.get(f"/v1/{conversation}/messages", headers=key)
    assert listed.json()["messages"][0] == message


async def test_a_client_that_drops_mid_reply_resumes_with_stream_reply_exactly_after_the_last_sequence(
        http, key, slow_words):
    conversation = (await create_conversation(http, key))["name"]
    async with http.stream("POST", f"/v1/{conversation}:sendMessage", json={"text": "Hello! Let's make a story."},
                           headers=key) as response:
        seen = [event for _, event in await read_events(response, stop_after=4)]
    # The connection is gone; the reply goes on being written on the server.
    reply = seen[0]["reply"]

    resumed = await http.get(f"/v1/{reply}:streamReply", params={"afterSequence": seen[-1]["sequence"]},
                             headers=key)

    assert resumed.status_code == 200 and resumed.headers["content-type"] == "text/event-stream"
    rest = sse_events(resumed.text)
    events = seen + rest
    assert sequences(events) == list(range(1, len(events) + 1))  # no duplicate, no gap
    assert kinds(rest)[-1] == "finished"
    stored = (await http.get(f"/v1/{conversation}/messages", params={"pageSize": 1}, headers=key)).json()
    assert text_of(events) == stored["messages"][0]["text"] == rest[-1]["finished"]["message"]["text"]
    replay = sse_events((await http.get(f"/v1/{reply}:streamReply", headers=key)).text)
    assert replay[1:] == events[1:]  # a full replay is the same events


async def test_list_messages_is_a_get_of_the_newest_first_with_a_token_for_older_ones(http, key):
    conversation = (await create_conversation(http, key))["name"]
    for text in ("one", "two"):
        await send(http, key, conversation, text)

    newest = await http.get(f"/v1/{conversation}/messages", params={"pageSize": 2}, headers=key)

    assert newest.status_code == 200
    page = newest.json()
    assert [m["role"] for m in page["messages"]] == ["MESSAGE_ROLE_ASSISTANT", "MESSAGE_ROLE_USER"]
    assert page["messages"][1]["text"] == "two" and page["nextPageToken"]
    older = (await http.get(f"/v1/{conversation}/messages", params={"pageSize": 2, "pageToken": page["nextPageToken"]},
                            headers=key)).json()
    assert [m["text"] for m in older["messages"] if m["role"] == "MESSAGE_ROLE_USER"] == ["one"]
    assert older["nextPageToken"] == ""


async def test_extract_requirements_is_a_post_that_returns_them_as_json(http, key):
    conversation = (await create_conversation(http, key))["name"]
    for text in ("A story about a brave little fox named Luna", "It happens in an enchanted forest",
                 "Make it funny please, it's for my 5 year old"):
        await send(http, key, conversation, text)

    response = await http.post(f"/v1/{conversation}:extractRequirements", json={}, headers=key)

    assert response.status_code == 200, response.text
    found = response.json()
    assert [c["name"] for c in found["requirements"]["characters"]] == ["Luna"]
    assert "forest" in found["requirements"]["setting"]
    assert found["requirements"]["tone"] == "STORY_TONE_FUNNY"
    assert found["complete"] is True and "characters" not in found["missingFields"]
    got = (await http.get(f"/v1/{conversation}", headers=key)).json()
    assert got["requirements"] == found["requirements"] and got["status"] == "CONVERSATION_STATUS_COMPLETED"


# --- errors --------------------------------------------------------------------------------------------------------


async def test_the_eleventh_message_in_a_minute_is_a_json_429_with_retry_info(http, key):
    conversation = (await create_conversation(http, key))["name"]
    await asyncio.gather(*(send(http, key, conversation, f"message {n}") for n in range(10)))

    response = await http.post(f"/v1/{conversation}:sendMessage", json={"text": "one too many"}, headers=key)

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["code"] == 8
    assert the_error_info(status)["reason"] == "RATE_LIMIT_EXCEEDED"
    [retry] = [d for d in status["details"] if d["@type"] == RETRY_INFO]
    assert retry["retryDelay"].endswith("s") and 0 < float(retry["retryDelay"][:-1]) <= 60
    listed = (await http.get(f"/v1/{conversation}/messages", params={"pageSize": 100}, headers=key)).json()
    assert len(listed["messages"]) == 20  # the refused message was not stored


async def test_another_users_conversation_is_a_json_404(http, storyloom_server, key):
    conversation = (await create_conversation(http, key))["name"]
    events = await send(http, key, conversation, "hello")
    stranger = {"x-api-key": (await storyloom_server.new_caller("stranger")).key}

    responses = [
        await http.get(f"/v1/{conversation}", headers=stranger),
        await http.get(f"/v1/{conversation}/messages", headers=stranger),
        await http.post(f"/v1/{conversation}:sendMessage", json={"text": "let me in"}, headers=stranger),
        await http.get(f"/v1/{events[0]['reply']}:streamReply", headers=stranger),
        await http.post(f"/v1/{conversation}:extractRequirements", json={}, headers=stranger),
    ]

    for response in responses:
        assert response.status_code == 404, response.request.url
        assert response.headers["content-type"] == "application/json"
        status = response.json()
        assert status["code"] == 5 and the_error_info(status)["reason"] == "RESOURCE_NOT_FOUND"


@pytest.mark.parametrize(("text", "reason"), [("", "INVALID_ARGUMENT"), ("bell\u0007", "MESSAGE_CHARACTERS_INVALID"),
                                              ("x" * 4001, "MESSAGE_TOO_LONG")])
async def test_bad_message_text_is_a_json_400_with_field_violations(http, key, text, reason):
    conversation = (await create_conversation(http, key))["name"]

    response = await http.post(f"/v1/{conversation}:sendMessage", content=json.dumps({"text": text}),
                               headers={**key, "content-type": "application/json"})

    assert response.status_code == 400
    status = response.json()
    assert status["code"] == 3 and the_error_info(status)["reason"] == reason
    [bad_request] = [d for d in status["details"] if d["@type"] == BAD_REQUEST]
    assert [v["field"] for v in bad_request["fieldViolations"]] == ["text"]


# --- the same over SSE with Gemini (the wire fake) as the engine ---------------------------------------------------


@pytest_asyncio.fixture
async def gemini_chat(tmp_path, start_gateway: StartGateway) -> AsyncIterator[tuple[GeminiFake, httpx.AsyncClient,
                                                                                    dict[str, str]]]:
    """A Gemini fake, a server whose engine talks to it, Envoy in front, an HTTP client and a key."""
    async with GeminiFake() as fake:
        engine = text_engine(fake, timeouts=SERVER_TIMEOUTS, retry=QUICK_RETRIES)
        async with serving(settings_for_tests(tmp_path / "gemini-data"), text_engine=engine) as server:
            caller = await server.new_caller()
            gateway = await start_gateway(server.port)
            async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
                yield fake, client, {"x-api-key": caller.key}
        assert fake.script_errors == []


async def test_a_gemini_reply_reaches_a_rest_client_chunk_by_chunk_as_server_sent_events(gemini_chat):
    fake, http, key = gemini_chat
    # A second between chunks: on a loaded machine the relay through the server and Envoy may lag by most of one.
    fake.script(Stream([chunk("Once "), chunk("upon a "), chunk("time, "), chunk("a fox.", finish_reason="STOP")],
                       delay=1.0))
    conversation = (await create_conversation(http, key))["name"]

    async with http.stream("POST", f"/v1/{conversation}:sendMessage", json={"text": "A fox story"},
                           headers=key) as response:
        timed = await read_events(response)

    events = [event for _, event in timed]
    assert [e["delta"]["text"] for e in events if "delta" in e] == ["Once ", "upon a ", "time, ", "a fox."]
    first_delta_at = next(at for at, e in timed if "delta" in e)
    assert first_delta_at < fake.requests[0].chunk_sent_at[-1]  # passed on while Gemini was still writing
    assert events[-1]["finished"]["message"]["text"] == "Once upon a time, a fox."


async def test_a_gemini_failure_mid_reply_ends_the_event_stream_with_an_in_band_error(gemini_chat):
    fake, http, key = gemini_chat
    fake.script(Stream([chunk("Once upon ")], error=error_body(503, "The model is overloaded.")))
    conversation = (await create_conversation(http, key))["name"]

    events = await send(http, key, conversation, "A fox story")

    assert kinds(events) == ["accepted", "delta", "error"]
    assert events[-1]["error"]["code"] == 14 and the_error_info(events[-1]["error"])["reason"] == "ENGINE_UNAVAILABLE"
    stored = (await http.get(f"/v1/{conversation}/messages", params={"pageSize": 1}, headers=key)).json()
    assert stored["messages"][0]["state"] == "MESSAGE_STATE_FAILED"
    assert stored["messages"][0]["text"] == "Once upon "
