"""HTTP download semantics through the real Envoy gateway: Range -> 206 with the right bytes (players seek),
ETag = sha256 and If-None-Match -> 304, Cache-Control for content-addressed bytes, and a story bundle's ETag."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from tests.support.media import png_bytes


async def _upload(http, key) -> tuple[dict, bytes]:
    data = png_bytes(64, 48, seed=7)
    created = await http.post("/v1/media", headers={**key, "content-type": "image/png"}, content=data)
    assert created.status_code == 200, created.text
    return created.json(), data


async def test_a_range_request_answers_206_with_exactly_those_bytes(http, key):
    media, data = await _upload(http, key)
    path, size = media["downloadPath"], len(data)

    middle = await http.get(path, headers={**key, "range": "bytes=100-199"})
    assert middle.status_code == 206
    assert middle.content == data[100:200]
    assert middle.headers["content-range"] == f"bytes 100-199/{size}"
    assert middle.headers["content-type"] == "image/png"

    tail = await http.get(path, headers={**key, "range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, data[-10:])
    rest = await http.get(path, headers={**key, "range": f"bytes={size - 5}-"})
    assert (rest.status_code, rest.content) == (206, data[-5:])

    past = await http.get(path, headers={**key, "range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"

    whole = await http.get(path, headers=key)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert "x-http-status" not in whole.headers and "x-http-status" not in middle.headers


async def test_the_etag_is_the_sha256_and_if_none_match_answers_304(http, key):
    media, data = await _upload(http, key)
    first = await http.get(media["downloadPath"], headers=key)
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(data).hexdigest()}"' == f'"{media["sha256"]}"'
    assert first.headers["cache-control"] == "private, max-age=31536000, immutable"

    again = await http.get(media["downloadPath"], headers={**key, "if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag

    other = await http.get(media["downloadPath"], headers={**key, "if-none-match": '"0000", W/"1111"'})
    assert other.status_code == 200 and other.content == data


async def test_a_story_bundle_downloads_as_a_zip_and_revalidates_with_304(http, key):
    created = await http.post("/v1/users/me/stories:illustrate", headers=key, json={
        "text": "Tom the toad found a red kite in the reeds. He ran and ran until it flew over the pond.\n\n"
                "The wind carried it high and Tom laughed as the ducks chased its long tail.",
        "maxScenes": 1})
    assert created.status_code == 200, created.text
    task = created.json()
    watched = await http.get(f"/v1/{task['name']}:watch", headers=key)
    assert "TASK_STATE_SUCCEEDED" in watched.text

    bundle = await http.get(f"/v1/{task['target']}:bundle", headers=key)
    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-type"] == "application/zip"
    assert bundle.headers["content-disposition"].startswith("attachment; filename=")
    assert bundle.headers["cache-control"] == "private, no-cache"
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        manifest = archive.read("manifest.json")
        assert bundle.headers["etag"] == f'"{hashlib.sha256(manifest).hexdigest()}"'
        picture = next(f for f in json.loads(manifest)["files"] if f["purpose"] == "full")
        assert hashlib.sha256(archive.read(picture["path"])).hexdigest() == picture["sha256"]

    again = await http.get(f"/v1/{task['target']}:bundle", headers={**key, "if-none-match": bundle.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_a_page_on_another_origin_may_send_range_and_if_none_match_and_read_the_etag(http, key):
    media, _ = await _upload(http, key)
    preflight = await http.options(media["downloadPath"], headers={
        "origin": "http://localhost:3000", "access-control-request-method": "GET",
        "access-control-request-headers": "x-api-key,range,if-none-match"})
    assert preflight.status_code == 200
    for header in ("range", "if-none-match"):
        assert header in preflight.headers["access-control-allow-headers"]
    response = await http.get(media["downloadPath"], headers={**key, "origin": "http://localhost:3000",
                                                              "range": "bytes=0-9"})
    assert response.status_code == 206
    for header in ("etag", "content-range"):
        assert header in response.headers["access-control-expose-headers"]
