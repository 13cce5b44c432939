"""The request fields each Gemini API version accepts, held against Google's published message types.

engines/gemini_versions.py keeps, for v1 and v1beta, the JSON paths of GenerateContentRequest that the engines may
send; google-ai-generativelanguage publishes the same messages. These tests fail when the two disagree, and when
an engine builds a request whose fields the default version does not have.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from storyloom.engines.gemini_versions import (
    ACCEPTED_PATHS,
    DEFAULT_API_VERSION,
    UnsupportedByApiVersion,
    check_request,
    request_paths,
)
from storyloom.engines.images import gemini as gemini_images
from storyloom.engines.text import gemini as gemini_text
from tests.support.gemini_fake import TYPES

USER = [types.Content(role="user", parts=[types.Part(text="Hello")])]


def published(version: str, path: str) -> bool:
    """Whether `path` (lowerCamel, dotted) names a field of the version's published GenerateContentRequest."""
    message: Any = TYPES[version].GenerateContentRequest.pb().DESCRIPTOR
    *parents, leaf = path.split(".")
    for name in parents:
        fields = {field.json_name: field for field in message.fields}
        if name not in fields or fields[name].message_type is None:
            return False
        message = fields[name].message_type
    return leaf in {field.json_name for field in message.fields}


def engine_requests() -> dict[str, types.GenerateContentConfig]:
    """Every request shape the engines send, with the options they set on it."""
    shapes = {f"text {purpose}": config for purpose, config in gemini_text.REQUEST_SHAPES.items()}
    shapes["text extraction"] = gemini_text.request_config(system_instruction="s", max_output_tokens=2048,
                                                           temperature=0.0,
                                                           json_schema=gemini_text.requirements_json_schema())
    shapes["picture"] = gemini_images.request_config("3:2")
    return shapes


@pytest.mark.parametrize("version", sorted(ACCEPTED_PATHS))
def test_every_field_the_table_accepts_is_in_the_published_request_of_that_version(version: str) -> None:
    assert [path for path in sorted(ACCEPTED_PATHS[version]) if not published(version, path)] == []


@pytest.mark.parametrize("version", sorted(ACCEPTED_PATHS))
def test_the_table_leaves_out_exactly_what_the_published_request_lacks(version: str) -> None:
    known = set().union(*ACCEPTED_PATHS.values())
    assert {path for path in known if published(version, path)} == ACCEPTED_PATHS[version]


@pytest.mark.parametrize("shape", sorted(engine_requests()))
def test_every_field_an_engine_sends_is_in_the_published_request_of_the_default_version(shape: str) -> None:
    config = engine_requests()[shape]
    paths = request_paths(USER, config)

    assert {"contents", "contents.parts.text"} <= paths
    assert [path for path in sorted(paths) if not published(DEFAULT_API_VERSION, path)] == []
    check_request(DEFAULT_API_VERSION, USER, config, purpose=shape)  # and the engine's own check agrees


def test_v1_lacks_the_system_instruction_and_structured_output_that_the_text_engine_sends() -> None:
    with pytest.raises(UnsupportedByApiVersion) as refused:
        check_request("v1", USER, engine_requests()["text extraction"], purpose="extraction")

    message = str(refused.value)
    for field in ("systemInstruction", "generationConfig.responseMimeType", "generationConfig.responseJsonSchema"):
        assert field in message and not published("v1", field) and published("v1beta", field)
    assert "STORYLOOM_GEMINI_API_VERSION=v1beta" in message


def test_a_config_field_without_a_known_place_in_the_request_is_refused_rather_than_guessed() -> None:
    config = types.GenerateContentConfig(labels={"team": "stories"})

    with pytest.raises(UnsupportedByApiVersion, match="labels"):
        request_paths(USER, config)

