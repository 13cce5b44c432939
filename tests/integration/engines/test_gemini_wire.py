"""The strict fake answers like the service, the engines refuse an API version that lacks what they send, and a
model that does not exist is reported at start with the names of those that do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from google import genai
from google.genai import errors, types

from storyloom.domain.ports.text import ChatRequest, ChatTurn, EngineUnavailable
from storyloom.engines.gemini_client import GeminiConnection, GeminiRetryPolicy
from storyloom.engines.gemini_versions import UnsupportedByApiVersion
from storyloom.engines.images.gemini import GeminiIllustrator
from storyloom.engines.text.gemini import GeminiTextEngine
from tests.support.gemini_engines import FAST, connect
from tests.support.gemini_fake import GeminiFake, Reply, Stream, chunk, error_body, model_info, text_reply

pytest_plugins = ("tests.support.gemini_fixtures",)

BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
HELLO = ChatRequest(system_instruction="You are Loom.", turns=[ChatTurn("user", "Hi")])


def sdk_client(fake: GeminiFake, api_version: str) -> genai.Client:
    """The bare SDK, without our engines' own checks, so a wrong request really reaches the fake."""
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(
        base_url=fake.base_url, api_version=api_version, retry_options=types.HttpRetryOptions(attempts=1)))


# --- the fake refuses what the service refuses, in the service's words ----------------------------------------------


async def test_a_field_the_version_lacks_gets_the_services_400_with_a_field_violation(gemini: GeminiFake) -> None:
    client = sdk_client(gemini, "v1")
    gemini.script(Stream([chunk("never sent", finish_reason="STOP")]))

    with pytest.raises(errors.ClientError) as raised:
        await client.aio.models.generate_content(
            model="gemini-3.5-flash-lite", contents="Hi",
            config=types.GenerateContentConfig(system_instruction="Be kind.", response_mime_type="application/json"))
    await client.aio.aclose()

    assert raised.value.code == 400 and raised.value.status == "INVALID_ARGUMENT"
    error = raised.value.details["error"]
    assert error["message"] == (
        "Invalid JSON payload received. Unknown name \"systemInstruction\": Cannot find field.\n"
        "Invalid JSON payload received. Unknown name \"responseMimeType\" at 'generation_config': Cannot find field.")
    [bad_request] = error["details"]
    assert bad_request["@type"] == BAD_REQUEST
    assert bad_request["fieldViolations"] == [
        {"description": "Invalid JSON payload received. Unknown name \"systemInstruction\": Cannot find field."},
        {"field": "generation_config",
         "description": "Invalid JSON payload received. Unknown name \"responseMimeType\" at 'generation_config': "
                        "Cannot find field."}]
    [refused] = gemini.requests
    assert refused.version == "v1" and refused.refused == raised.value.details
    assert gemini.unused_behaviors == 1  # refused before anything scripted was played


async def test_a_wrong_nested_name_or_enum_value_is_refused_with_its_path(gemini: GeminiFake) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi", "txet": "typo"}]}],
            "safetySettings": [{"category": "HARM_CATEGORY_SCARY", "threshold": "BLOCK_LOW_AND_ABOVE"}]}

    async with httpx.AsyncClient(base_url=gemini.base_url) as http:
        response = await http.post("/v1beta/models/gemini-3.5-flash-lite:generateContent", json=body,
                                   headers={"x-goog-api-key": "test-key"})

    assert response.status_code == 400
    violations = response.json()["error"]["details"][0]["fieldViolations"]
    assert violations == [
        {"field": "contents[0].parts[0]",
         "description": "Invalid JSON payload received. Unknown name \"txet\" at 'contents[0].parts[0]': "
                        "Cannot find field."},
        {"field": "safety_settings[0].category",
         "description": "Invalid value at 'safety_settings[0].category' "
                        "(type.googleapis.com/google.ai.generativelanguage.v1beta.HarmCategory), "
                        "\"HARM_CATEGORY_SCARY\""}]


async def test_an_unknown_model_a_missing_key_and_a_version_that_does_not_exist_are_refused(
        gemini: GeminiFake) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    key = {"x-goog-api-key": "test-key"}

    async with httpx.AsyncClient(base_url=gemini.base_url) as http:
        unknown = await http.post("/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers=key)
        no_key = await http.post("/v1beta/models/gemini-3.5-flash-lite:generateContent", json=body)
        no_version = await http.post("/v2/models/gemini-3.5-flash-lite:generateContent", json=body, headers=key)
        embedding_model = await http.post("/v1beta/models/gemini-embedding-001:generateContent", json=body,
                                          headers=key)

    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    assert unknown.json()["error"]["message"].startswith(
        "models/gemini-2.5-flash is not found for API version v1beta, or is not supported for generateContent.")
    assert no_key.status_code == 403 and no_key.json()["error"]["status"] == "PERMISSION_DENIED"
    assert no_version.status_code == 404
    assert embedding_model.status_code == 404  # it does not serve generateContent


async def test_a_scripted_response_the_published_types_cannot_carry_is_a_500_and_a_recorded_script_error() -> None:
    async with GeminiFake() as fake:
        engine = GeminiTextEngine(connect(fake, retry=GeminiRetryPolicy(attempts=1)))
        fake.script(Reply({"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReson": "STOP"}]}))
        with pytest.raises(EngineUnavailable) as raised:
            await engine.summarize([ChatTurn("user", "Hi")], "")
        await engine.aclose()

    assert raised.value.metadata["httpStatus"] == "500"
    [problem] = fake.script_errors
    assert "finishReson" in problem


async def test_responses_carry_the_services_field_names_and_casing(gemini: GeminiFake) -> None:
    gemini.script(text_reply("Hello"))

    async with httpx.AsyncClient(base_url=gemini.base_url) as http:
        response = await http.post("/v1beta/models/gemini-3.5-flash-lite:generateContent",
                                   json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
                                   headers={"x-goog-api-key": "test-key"})

    document = response.json()
    assert set(document) == {"candidates", "usageMetadata", "modelVersion", "responseId"}
    assert document["candidates"][0]["finishReason"] == "STOP"
    assert document["usageMetadata"]["candidatesTokenCount"] == 20


# --- an API version without the engines' fields is refused at start ------------------------------------------------


async def test_a_text_engine_on_v1_is_refused_before_any_request_naming_the_fields_and_the_fix(
        gemini: GeminiFake) -> None:
    connection = connect(gemini, api_version="v1")
    try:
        with pytest.raises(UnsupportedByApiVersion) as refused:
            GeminiTextEngine(connection)
    finally:
        await connection.aclose()

    assert "Gemini API v1 has no " in str(refused.value) and "systemInstruction" in str(refused.value)
    assert "STORYLOOM_GEMINI_API_VERSION=v1beta" in str(refused.value)
    assert gemini.all_requests == []


async def test_from_env_with_v1_or_an_unknown_version_fails_clearly_for_both_engines(gemini: GeminiFake) -> None:
    environ = {"GEMINI_API_KEY": "k", "STORYLOOM_GEMINI_BASE_URL": gemini.base_url}

    with pytest.raises(UnsupportedByApiVersion, match="systemInstruction"):
        GeminiTextEngine.from_env(environ | {"STORYLOOM_GEMINI_API_VERSION": "v1"})
    with pytest.raises(UnsupportedByApiVersion, match="generationConfig.responseModalities"):
        GeminiIllustrator.from_env(environ | {"STORYLOOM_GEMINI_API_VERSION": "v1"})
    with pytest.raises(UnsupportedByApiVersion, match="unknown Gemini API version 'v2'"):
        GeminiTextEngine.from_env(environ | {"STORYLOOM_GEMINI_API_VERSION": "v2"})
    engine = GeminiTextEngine.from_env(environ | {"STORYLOOM_GEMINI_API_VERSION": "v1beta"})
    gemini.script(Stream([chunk("Hi", finish_reason="STOP")]))
    try:
        [event async for event in engine.chat(HELLO)]
    finally:
        await engine.aclose()
    assert gemini.requests[0].version == "v1beta"


async def test_a_request_the_version_lacks_is_refused_before_it_is_sent(gemini: GeminiFake) -> None:
    connection = GeminiConnection("test-key", base_url=gemini.base_url, api_version="v1")
    config = types.GenerateContentConfig(response_modalities=["IMAGE"])
    try:
        with pytest.raises(UnsupportedByApiVersion, match="responseModalities"):
            await connection.generate("gemini-3.5-flash-lite", [], config, timeouts=FAST, purpose="picture")
    finally:
        await connection.aclose()
    assert gemini.all_requests == []


# --- the start-up model check ---------------------------------------------------------------------------------------


async def test_a_model_that_exists_passes_the_check_quietly(gemini: GeminiFake, gemini_engine: GeminiTextEngine,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert await gemini_engine.check_model() is True

    assert caplog.records == []
    [asked] = gemini.model_requests
    assert (asked.method, asked.path) == ("GET", "/v1beta/models/gemini-3.5-flash-lite")


async def test_an_unknown_model_is_a_warning_naming_the_models_that_exist_and_the_setting(
        gemini: GeminiFake, make_gemini_engine: Callable[..., GeminiTextEngine],
        caplog: pytest.LogCaptureFixture) -> None:
    engine = make_gemini_engine(model="gemini-2.5-flash")
    for n in range(60):  # more than one page of models.list
        gemini.models[f"gemini-test-{n:02d}"] = model_info(f"gemini-test-{n:02d}")

    with caplog.at_level(logging.WARNING):
        assert await engine.check_model() is False

    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Gemini model gemini-2.5-flash does not exist on API v1beta" in warning
    assert "STORYLOOM_GEMINI_MODEL" in warning
    assert "gemini-3.5-flash-lite" in warning and "gemini-test-59" in warning
    assert "gemini-embedding-001" not in warning  # it does not serve generateContent
    assert [r.rpc for r in gemini.model_requests] == ["get", "list", "list"]  # two pages of 50


async def test_a_model_that_does_not_serve_the_method_is_a_warning(
        gemini: GeminiFake, make_gemini_illustrator: Callable[..., GeminiIllustrator],
        caplog: pytest.LogCaptureFixture) -> None:
    illustrator = make_gemini_illustrator(model="gemini-embedding-001")

    with caplog.at_level(logging.WARNING):
        assert await illustrator.check_model() is False

    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "gemini-embedding-001 does not serve generateContent" in warning
    assert "STORYLOOM_GEMINI_IMAGE_MODEL" in warning and "gemini-3.1-flash-image" in warning


async def test_a_check_that_cannot_be_made_is_a_warning_and_does_not_stop_the_server(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine, caplog: pytest.LogCaptureFixture) -> None:
    gemini.models_failure = Reply(error_body(400, "API key not valid. Please pass a valid API key."), status=400)

    with caplog.at_level(logging.WARNING):
        assert await gemini_engine.check_model() is None

    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Could not check that Gemini model gemini-3.5-flash-lite exists" in warning
    assert "API key not valid" in warning
