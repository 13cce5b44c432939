"""CreateStoryVideo's refusals through the real Envoy gateway: the HTTP status and the google.rpc.Status as JSON."""

from __future__ import annotations


def reason(body: dict) -> str:
    infos = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert len(infos) == 1, body
    return str(infos[0]["reason"])


async def test_filming_a_story_still_being_written_is_a_400_with_its_reason(http, key):
    created = await http.post("/v1/users/me/stories", headers=key,
                              json={"requirements": {"setting": "the moon"}, "sceneCount": 3})
    assert created.status_code == 200, created.text
    story = created.json()["target"]

    refused = await http.post(f"/v1/{story}/videos", headers=key, json={"options": {"captions": True}})
    assert refused.status_code == 400, refused.text  # FAILED_PRECONDITION, as Envoy maps it
    body = refused.json()
    assert body["code"] == 9 and reason(body) == "STORY_NOT_READY"

    bad = await http.post(f"/v1/{story}/videos", headers=key, json={"options": {"resolution": 42}})
    assert bad.status_code == 400 and bad.json()["code"] == 3
    fields = [v["field"] for d in bad.json()["details"] if d["@type"].endswith("BadRequest")
              for v in d["fieldViolations"]]
    assert fields == ["options.resolution"]


async def test_an_unknown_story_or_video_is_a_404(http, key):
    missing = await http.post("/v1/users/me/stories/nope/videos", headers=key, json={})
    assert missing.status_code == 404 and reason(missing.json()) == "RESOURCE_NOT_FOUND"
    video = await http.get("/v1/users/me/stories/nope/videos/none", headers=key)
    assert video.status_code == 404 and reason(video.json()) == "RESOURCE_NOT_FOUND"
