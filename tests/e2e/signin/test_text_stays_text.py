"""Text stays text: what people and models write is stored as given and never rendered as HTML. The web page in
headless Chromium (signed in with a token through the gateway) shows markup in a chat message, a story's title and
its character literally and runs none of it; the Markdown export escapes it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx

from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2 as pb
from storyloom.v1 import story_pb2_grpc, task_pb2, task_pb2_grpc
from tests.support.browser import ARTIFACTS, ROOT, BrowserTools, ServePage
from tests.support.gateway import StartGateway
from tests.support.identity import IdentityProvider, bearer
from tests.support.server import StoryloomServer

DRIVER = Path(__file__).with_name("drive_xss.mjs")
IMG = "<img src=x onerror=\"window.__ran.push('img');alert('img')\">"
SCRIPT = "<script>window.__ran.push('script');alert('script')</script>"
SVG = "<svg onload=\"window.__ran.push('svg')\"></svg>"
MESSAGE = f"A story about {IMG} and {SCRIPT} & friends"
TITLE = f"{SCRIPT}{SVG} The <b>Bold</b> Fox"
CHARACTER = f"Pip{IMG}"


async def test_markup_in_a_message_a_title_and_a_character_shows_literally_and_never_runs(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider], start_gateway: StartGateway,
        serve_page: ServePage, browser_tools: BrowserTools) -> None:
    gateway = await start_gateway(signin_server.port,
                                  jwt_issuers=[dataclasses.asdict(p.settings()) for p in providers.values()])
    token = providers["firebase"].token("xss-tester")
    url = f"{serve_page(gateway=gateway.url)}/#{urlencode({'token': token})}"
    argument = json.dumps({"url": url, "chromium": browser_tools.chromium, "artifacts": str(ARTIFACTS),
                           "payload": MESSAGE, "title": TITLE, "character": CHARACTER})
    process = await asyncio.create_subprocess_exec(browser_tools.node, str(DRIVER), argument, cwd=ROOT,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 180)
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["ok"], f"{result.get('error')}\n{result.get('pageText')}\n{stderr.decode()[-2000:]}"

    seen = result["seen"]
    assert seen["ran"] == [] and result["dialogs"] == [], result  # no markup ran
    assert seen["injected"] == 0 and result["problems"] == []  # no element was made from it, nothing loaded
    assert seen["userMessage"] == MESSAGE and seen["userMessageChildren"] == 0  # shown as written, one text node
    assert seen["storyError"] is None

    # What the page showed is what was stored, as given (signed in with the token: the same user).
    async with httpx.AsyncClient(base_url=gateway.url, headers={"authorization": f"Bearer {token}"}) as http:
        conversation = (await http.get("/v1/users/me/conversations")).json()["conversations"][0]
        messages = (await http.get(f"/v1/{conversation['name']}/messages")).json()["messages"]
        story = (await http.get(f"/v1/{(await http.get('/v1/users/me/stories')).json()['stories'][0]['name']}")).json()
    assert messages[-1]["text"] == MESSAGE and seen["reply"] == messages[0]["text"]
    assert story["title"] == TITLE == seen["heading"]
    assert [(s["title"], s["text"]) for s in seen["scenes"]] == [(s["title"], s["text"]) for s in story["scenes"]]
    assert all(s["titleChildren"] == s["textChildren"] == 0 for s in seen["scenes"])


async def test_the_markdown_export_escapes_html_and_the_story_keeps_it_as_given(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider]) -> None:
    stories = story_pb2_grpc.StoryServiceStub(signin_server.channel)
    metadata = bearer(providers["clerk"].token("user_markdown"))
    task = await stories.CreateStory(pb.CreateStoryRequest(
        parent="users/me", scene_count=1, skip_illustrations=True, skip_narration=True,
        requirements=req.StoryRequirements(title=TITLE, characters=[req.Character(name=CHARACTER)])),
        metadata=metadata)
    tasks = task_pb2_grpc.TaskServiceStub(signin_server.channel)
    events = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=metadata)]
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    story = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=metadata)
    assert story.title == TITLE  # stored as given

    markdown = (await stories.ExportStory(pb.ExportStoryRequest(name=task.target), metadata=metadata)).data.decode()
    assert "<" not in markdown and ">" not in markdown, markdown
    assert markdown.startswith("# &lt;script&gt;window.__ran.push('script');alert('script')&lt;/script&gt;&lt;svg")
    assert "The &lt;b&gt;Bold&lt;/b&gt; Fox" in markdown
    plain = (await stories.ExportStory(pb.ExportStoryRequest(name=task.target, format=pb.EXPORT_FORMAT_PLAIN_TEXT),
                                       metadata=metadata)).data.decode()
    assert plain.startswith(TITLE)  # plain text is not rendered: it stays as written
