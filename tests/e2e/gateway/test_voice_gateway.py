"""VoiceService through the real Envoy gateway: Synthesize is a playable audio file over REST, Transcribe takes an
uploaded recording, and sessions, memories and language detection are plain JSON."""

from __future__ import annotations

import io
import struct
import wave


async def test_synthesize_over_rest_is_a_playable_wav_that_transcribe_hears_back(http, key) -> None:
    text = "The little fox found a shiny red apple. It was delicious!"
    response = await http.post("/v1/users/me/voice:synthesize", json={"text": text}, headers=key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        frames = wav.readframes(10**7)
    assert 2.0 < len(frames) / 2 / 22050 < 8.0
    assert max(abs(s) for s in struct.unpack(f"<{len(frames) // 2}h", frames)) > 8000

    uploaded = await http.post("/v1/media", content=response.content,
                               headers={**key, "content-type": "audio/wav"})
    assert uploaded.status_code == 200, uploaded.text
    heard = await http.post("/v1/users/me/voice:transcribe", json={"media": uploaded.json()["name"]}, headers=key)
    assert heard.status_code == 200, heard.text
    body = heard.json()
    assert {"fox", "apple"} <= set(body["text"].lower().replace(".", " ").replace(",", " ").split())
    assert body["languageCode"] == "en" and body["segments"]


async def test_synthesize_over_rest_as_raw_pcm_at_a_rate(http, key) -> None:
    response = await http.post("/v1/users/me/voice:synthesize", headers=key, json={
        "text": "Good night.", "outputFormat": {"encoding": "AUDIO_ENCODING_LINEAR16", "sampleRateHertz": 16000}})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/L16;rate=16000"
    assert 0.3 < len(response.content) / 2 / 16000 < 3.0


async def test_a_bad_synthesis_is_a_400_with_the_reason(http, key) -> None:
    response = await http.post("/v1/users/me/voice:synthesize", json={"text": "Hi", "voice": "darth"}, headers=key)
    assert response.status_code == 400
    reasons = [d.get("reason") for d in response.json()["details"]]
    assert "VOICE_UNKNOWN" in reasons


async def test_sessions_memories_and_language_detection_are_json(http, key, caller) -> None:
    created = await http.post("/v1/users/me/voiceSessions", json={"languageCode": "en"}, headers=key)
    assert created.status_code == 200, created.text
    session = created.json()
    assert session["name"].startswith(f"users/{caller.user_id}/voiceSessions/") and session["turnCount"] == 0
    got = await http.get(f"/v1/{session['name']}", headers=key)
    assert got.json() == session

    added = await http.post("/v1/users/me/memories", headers=key, json={
        "userText": "My favourite colour is purple", "session": session["name"]})
    assert added.status_code == 200, added.text
    found = await http.post("/v1/users/me/memories:query", json={"query": "which colour?"}, headers=key)
    assert [m["memory"]["name"] for m in found.json()["matches"]] == [added.json()["name"]]
    summary = (await http.get("/v1/users/me/memorySummary", headers=key)).json()
    assert summary["memoryCount"] == 1 and "purple" in summary["summary"]

    detected = await http.post("/v1/users/me/voice:detectLanguage", headers=key,
                               json={"text": "Bonjour, je voudrais une histoire de dragons."})
    assert detected.json()["languageCode"] == "fr"

    deleted = await http.delete(f"/v1/{session['name']}", headers=key)
    assert deleted.status_code == 200
    assert (await http.get(f"/v1/{session['name']}", headers=key)).status_code == 404
