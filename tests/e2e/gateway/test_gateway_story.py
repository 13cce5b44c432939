"""A whole story through the REST gateway, as a web page would make and read it."""

from __future__ import annotations

import hashlib

from tests.support.gateway import sse_events
from tests.support.stories import without_bundle_renditions_json


async def test_a_story_made_over_rest_has_every_picture_and_narration_downloadable(http, caller):
    key = {"x-api-key": caller.key}
    created = await http.post("/v1/users/me/stories", headers=key, json={
        "requirements": {"characters": [{"name": "Milo", "description": "a curious robot"}],
                         "setting": "a city on the moon", "tone": "STORY_TONE_ADVENTUROUS"},
        "sceneCount": 2})
    assert created.status_code == 200, created.text
    task = created.json()

    progress = await http.get(f"/v1/{task['name']}:watch", headers=key)
    assert progress.headers["content-type"].startswith("text/event-stream")
    events = sse_events(progress.text)
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    assert [e["percent"] for e in events] == sorted(e["percent"] for e in events)
    assert events[-1]["state"] == "TASK_STATE_SUCCEEDED" and events[-1]["percent"] == 100
    assert events[-1]["result"]["@type"] == "type.googleapis.com/storyloom.v1.Story"

    story = (await http.get(f"/v1/{task['target']}", headers=key)).json()
    assert story["state"] == "STORY_STATE_READY" and len(story["scenes"]) == 2
    # Each scene came in its SCENE_READY event, in JSON as GetStory shows it (the Scene's type is in the descriptors).
    ready = [e for e in events if e.get("type") == "TASK_EVENT_TYPE_SCENE_READY"]
    assert all(e["part"]["@type"] == "type.googleapis.com/storyloom.v1.Scene" for e in ready)
    delivered = {e["part"].get("index", 0): {k: v for k, v in e["part"].items() if k != "@type"} for e in ready}
    # (the renditions for bundles are made after a scene is out)
    assert {i: without_bundle_renditions_json(s) for i, s in delivered.items()} == {
        i: without_bundle_renditions_json(s) for i, s in enumerate(story["scenes"])}
    for scene in story["scenes"]:
        assert "Milo" in story["scenes"][0]["text"] and scene["text"]
        for asset, content_type in (("picture", "image/png"), ("narration", "audio/wav")):
            media = scene[asset]
            download = await http.get(media["downloadPath"], headers=key)
            assert download.status_code == 200
            assert download.headers["content-type"] == content_type
            assert hashlib.sha256(download.content).hexdigest() == media["sha256"]
            assert len(download.content) == int(media["sizeBytes"])
        thumbnail = next(r for r in scene["picture"]["renditions"] if r["purpose"] == "thumbnail")
        small = await http.get(f"/v1/{thumbnail['media']}:download", headers=key)
        assert small.headers["content-type"] == "image/png"
        assert hashlib.sha256(small.content).hexdigest() == thumbnail["sha256"]

    exported = await http.get(f"/v1/{task['target']}:export", headers=key)
    assert exported.headers["content-type"].startswith("text/markdown")
    assert exported.text.startswith("# ") and story["scenes"][1]["title"] in exported.text
    plain = await http.get(f"/v1/{task['target']}:export?format=EXPORT_FORMAT_PLAIN_TEXT", headers=key)
    assert plain.headers["content-type"].startswith("text/plain")

    listed = (await http.get("/v1/users/me/stories", headers=key)).json()
    assert [s["name"] for s in listed["stories"]] == [story["name"]]


async def test_a_bad_story_request_is_a_400_naming_the_field(http, caller):
    response = await http.post("/v1/users/me/stories", headers={"x-api-key": caller.key},
                               json={"requirements": {"setting": "a lighthouse"}, "sceneCount": 99})
    assert response.status_code == 400
    violations = [d for d in response.json()["details"] if d["@type"].endswith("BadRequest")]
    assert violations[0]["fieldViolations"][0]["field"] == "scene_count"
