"""The web page (clients/web) in headless Chromium, in front of the real server and a real Envoy gateway.

tests/web/drive_page.mjs uses the page as a person would (playwright-core driving Debian's Chromium): the key
comes from the address, a chat message gets its reply written word by word, a story is created and its progress
bar followed to 100 %, then the scenes' pictures are shown and a play button plays a narration. Here we check what
was on the screen against what the server stored, once over each protocol the page speaks: REST/JSON + Server-Sent
Events, and gRPC-Web. Screenshots are kept in test-artifacts/web/.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from storyloom.engines.text.offline import OfflineStoryteller
from tests.support.browser import ARTIFACTS, ROOT, BrowserTools, ServePage
from tests.support.gateway import Gateway, StartGateway
from tests.support.server import Caller, StoryloomServer

DRIVER = Path(__file__).with_name("drive_page.mjs")
DRIVER_TIMEOUT = 240.0
SCENES = 2


async def drive(tools: BrowserTools, url: str, **config: object) -> dict:
    """Runs drive_page.mjs and returns what it saw; fails with its error, page text and screenshot path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    argument = json.dumps({"url": url, "chromium": tools.chromium, "artifacts": str(ARTIFACTS), **config})
    process = await asyncio.create_subprocess_exec(
        tools.node, str(DRIVER), argument, cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), DRIVER_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"drive_page.mjs did not finish in {DRIVER_TIMEOUT:.0f} s")
    lines = stdout.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"drive_page.mjs exited {process.returncode} without a result:\n"
                    f"{stdout.decode(errors='replace')}\n{stderr.decode(errors='replace')}")
    name = Path(str(config.get("screenshot", "storyloom-page.png"))).stem
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if not result.get("ok"):
        pytest.fail(f"the page did not do what a person asked:\n{result.get('error')}\n"
                    f"--- page text ---\n{result.get('pageText')}\n--- problems ---\n{result.get('problems')}\n"
                    f"screenshot: {result.get('screenshot')}\nstderr: {stderr.decode(errors='replace')[-2000:]}")
    return result


async def slow_replies_behind_a_gateway(server: StoryloomServer, start_gateway: StartGateway) -> Gateway:
    """A real Envoy in front of the server, whose offline storyteller writes a reply in about a second: long
    enough to see it grow."""
    engine = server.app.text_engine
    assert isinstance(engine, OfflineStoryteller)
    engine.word_delay = 0.02
    return await start_gateway(server.port)


async def check_what_was_shown(seen: dict, gateway: str, caller: Caller, scene_count: int) -> None:
    """What the server stored is what the page showed, and the page showed it growing before it was complete."""
    assert seen["problems"] == []  # no page errors, no failed or 4xx/5xx requests

    # The key came from the address, was kept for the next visit, and left the address bar.
    assert seen["settings"]["keyFieldFilled"] and seen["settings"]["keyStored"]
    assert "key=" not in seen["settings"]["addressBar"]
    assert seen["settings"]["gateway"] == gateway
    assert {r["origin"] for r in seen["gatewayRequests"]} == {gateway}

    async with httpx.AsyncClient(base_url=gateway, headers={"x-api-key": caller.key}, timeout=30) as http:
        conversations = (await http.get("/v1/users/me/conversations")).json()["conversations"]
        assert len(conversations) == 1
        messages = (await http.get(f"/v1/{conversations[0]['name']}/messages")).json()["messages"]
        stories = (await http.get("/v1/users/me/stories")).json()["stories"]
        assert len(stories) == 1
        story = (await http.get(f"/v1/{stories[0]['name']}")).json()

    chat = seen["chat"]
    assert chat["error"] is None and chat["state"] == "done"
    assert [m["role"] for m in messages] == ["MESSAGE_ROLE_ASSISTANT", "MESSAGE_ROLE_USER"]  # newest first
    assert chat["user"] == messages[1]["text"]
    assert chat["reply"] == messages[0]["text"] and len(chat["reply"].split()) > 5
    assert chat["deltas"] > 5
    partial = [n for n in chat["partialLengths"] if n < len(chat["reply"])]
    assert len(partial) >= 3, chat  # several incomplete texts were on the screen before the whole reply

    shown = seen["story"]
    assert shown["error"] is None
    assert shown["progressValue"] == 100 and shown["percentText"] == "100 %"
    assert shown["progressState"] == "TASK_STATE_SUCCEEDED" and shown["stage"] == "done"
    values = [p["value"] for p in shown["progressSeen"]]
    assert values == sorted(values), values  # the bar only moves forward
    assert any(0 < v < 100 for v in values), values  # and was seen in between
    assert {"premise", "scenes", "illustrations", "narration", "done"} <= {p["stage"] for p in shown["progressSeen"]}
    assert any(p["eta"].endswith(" left") for p in shown["progressSeen"]), shown["progressSeen"]  # an ETA was shown
    # Scene 1 was on the page while the bar still moved: each scene is shown as it finishes.
    assert any(p["scenesShown"] >= 1 and p["value"] < 100 for p in shown["progressSeen"]), shown["progressSeen"]
    assert shown["eta"].startswith("finished in")

    assert story["state"] == "STORY_STATE_READY" and shown["heading"] == story["title"]
    assert len(shown["scenes"]) == len(story["scenes"]) == scene_count
    for on_screen, stored in zip(shown["scenes"], story["scenes"], strict=True):
        assert on_screen["title"] == stored["title"] and on_screen["text"] == stored["text"]
        image = on_screen["image"]
        assert image["src"].startswith("blob:") and image["complete"]
        # The picture's own bytes were decoded: its pixel size is the stored picture's.
        assert (image["naturalWidth"], image["naturalHeight"]) == (stored["picture"]["image"]["width"],
                                                                  stored["picture"]["image"]["height"])
        assert image["naturalWidth"] > 0 and image["shownWidth"] > 100 and image["shownHeight"] > 50
        audio = on_screen["audio"]
        assert audio["src"].startswith("blob:") and audio["readyState"] >= 1
        stored_seconds = float(stored["narration"]["audio"]["duration"].rstrip("s"))
        assert audio["duration"] == pytest.approx(stored_seconds, abs=0.05)
        assert on_screen["playButton"] == {"text": "▶ Play", "disabled": False}
    assert seen["playing"]["button"] == "❚❚ Pause" and seen["playing"]["currentTime"] > 0

    # A wrong key: the status's code and ErrorInfo reason reached the page.
    assert seen["badKey"]["connection"] == ("UNAUTHENTICATED (API_KEY_INVALID): The API key is not valid. "
                                            "Check the API key.")

    screenshot = Path(seen["screenshot"])
    assert screenshot.parent == ARTIFACTS and screenshot.name.startswith("storyloom-page")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_person_chats_and_gets_an_illustrated_narrated_story_over_rest_and_sse(
    storyloom_server: StoryloomServer, caller: Caller, start_gateway: StartGateway, serve_page: ServePage,
    browser_tools: BrowserTools,
) -> None:
    gateway = await slow_replies_behind_a_gateway(storyloom_server, start_gateway)
    # The settings in the query, as a link would carry them; the page's server names no gateway here.
    url = f"{serve_page()}/?{urlencode({'gateway': gateway.url, 'key': caller.key})}"

    started = time.monotonic()
    seen = await drive(browser_tools, url, screenshot="storyloom-page.png",
                       story={"character": "Milo", "description": "a curious little robot",
                              "setting": "a city on the moon", "scenes": SCENES},
                       video={"resolution": "VIDEO_RESOLUTION_360P"})
    print(f"browser run: {time.monotonic() - started:.1f} s; steps (ms): {seen['steps']}")

    assert seen["settings"]["protocol"] == "rest"
    await check_what_was_shown(seen, gateway.url, caller, SCENES)
    # Every call was REST/JSON: streams as Server-Sent Events, media as raw downloads; no gRPC-Web.
    requests = seen["gatewayRequests"]
    assert all(r["path"].startswith("/v1/") for r in requests), requests
    assert not any("grpc" in (r["contentType"] or "") for r in requests), requests
    assert {r["path"].rsplit(":", 1)[-1] for r in requests if r["accept"] == "text/event-stream"} == {
        "sendMessage", "watch"}
    # A picture and a narration each, then the video with its poster and captions.
    assert sum(r["path"].endswith(":download") for r in requests) == 2 * SCENES + 3
    await check_the_video_played(seen, gateway.url, caller)


async def check_the_video_played(seen: dict, gateway: str, caller: Caller) -> None:
    """The finished story's video, fetched through the gateway, loaded in Chromium with the stored length and
    size, and played for a second."""
    shown = seen["video"]
    async with httpx.AsyncClient(base_url=gateway, headers={"x-api-key": caller.key}, timeout=30) as http:
        video = (await http.get(f"/v1/{shown['name']}")).json()
    assert video["state"] == "STORY_VIDEO_STATE_READY"
    assert shown["error"] is None
    assert shown["duration"] == pytest.approx(float(video["duration"].rstrip("s")), abs=0.5)
    assert (shown["videoWidth"], shown["videoHeight"]) == (640, 360)
    assert shown["currentTime"] >= 1.0 and not shown["paused"]
    assert shown["poster"] and shown["captions"]["kind"] == "captions" and shown["captions"]["cues"] > 0


async def test_a_person_gets_the_same_over_grpc_web_with_the_gateway_from_the_pages_server(
    storyloom_server: StoryloomServer, caller: Caller, start_gateway: StartGateway, serve_page: ServePage,
    browser_tools: BrowserTools,
) -> None:
    gateway = await slow_replies_behind_a_gateway(storyloom_server, start_gateway)
    # What `make run` prints: the page's own address and the key in the fragment; the gateway (not on 8080 here)
    # comes from the page's server (/config.json), the protocol from the fragment too.
    url = f"{serve_page(gateway=gateway.url)}/#{urlencode({'key': caller.key, 'protocol': 'grpc-web'})}"

    seen = await drive(browser_tools, url, screenshot="storyloom-page-grpc-web.png",
                       story={"character": "Ada", "description": "a brave young inventor",
                              "setting": "a floating island", "tone": "STORY_TONE_WHIMSICAL", "scenes": 1})

    assert seen["settings"]["protocol"] == "grpc-web" and "protocol=grpc-web" in seen["settings"]["addressBar"]
    await check_what_was_shown(seen, gateway.url, caller, 1)
    # Every call was gRPC-Web (binary protobuf) through the same gateway: the streams (the chat reply, the task's
    # progress, the media bytes) as well as the unary calls.
    requests = seen["gatewayRequests"]
    assert {r["contentType"] for r in requests} == {"application/grpc-web+proto"}, requests
    assert {r["path"] for r in requests} == {
        "/storyloom.v1.TaskService/ListTasks", "/storyloom.v1.ConversationService/CreateConversation",
        "/storyloom.v1.ConversationService/SendMessage", "/storyloom.v1.StoryService/CreateStory",
        "/storyloom.v1.TaskService/WatchTask", "/storyloom.v1.MediaService/GetMedia"}
    assert sum(r["path"].endswith("/GetMedia") for r in requests) == 2  # the picture and the narration
