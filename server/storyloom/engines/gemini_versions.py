"""Which request fields each Gemini REST API version accepts, and the check that a request fits the chosen one.

google-genai serializes whatever config it is given, and the service answers a field that its API version lacks
with 400 "Invalid JSON payload received. Unknown name ...". `v1` has no system instruction, no structured output,
no thinking or image settings; `v1beta` has them all. So the engines check every request shape they will send
against the version they talk to: all of them when they are built (a wrong version stops the server at start, with a
message that says what to change) and each request again before it is sent.

The tables name fields as the service's JSON does (lowerCamel paths), taken from Google's published protos
(`google.ai.generativelanguage` v1 and v1beta, GenerateContentRequest); a test compares them with those types.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import pydantic
from google.genai import types

DEFAULT_API_VERSION = "v1beta"
API_VERSION_SETTING = "STORYLOOM_GEMINI_API_VERSION"

# Where each GenerateContentConfig field goes in the REST body; None for those the SDK uses itself and never sends.
CONFIG_PATHS: Mapping[str, str | None] = {
    "system_instruction": "systemInstruction",
    "safety_settings": "safetySettings",
    "tools": "tools",
    "tool_config": "toolConfig",
    "cached_content": "cachedContent",
    **{name: "generationConfig." + camel for name, camel in {
        "temperature": "temperature", "top_p": "topP", "top_k": "topK", "candidate_count": "candidateCount",
        "max_output_tokens": "maxOutputTokens", "stop_sequences": "stopSequences", "seed": "seed",
        "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
        "response_mime_type": "responseMimeType", "response_schema": "responseSchema",
        "response_json_schema": "responseJsonSchema", "response_modalities": "responseModalities",
        "thinking_config": "thinkingConfig", "image_config": "imageConfig", "speech_config": "speechConfig",
        "media_resolution": "mediaResolution",
    }.items()},
    "automatic_function_calling": None,
    "automatic_continuation": None,
    "http_options": None,
}

_BOTH = frozenset({
    "contents", "contents.parts", "contents.parts.text", "contents.role",
    "safetySettings", "safetySettings.category", "safetySettings.threshold",
    "generationConfig.candidateCount", "generationConfig.stopSequences", "generationConfig.maxOutputTokens",
    "generationConfig.temperature", "generationConfig.topP", "generationConfig.topK", "generationConfig.seed",
    "generationConfig.presencePenalty", "generationConfig.frequencyPenalty",
})
# The request fields each version accepts, of those the engines may send.
ACCEPTED_PATHS: Mapping[str, frozenset[str]] = {
    "v1": _BOTH,
    "v1beta": _BOTH | {
        "systemInstruction", "systemInstruction.parts", "systemInstruction.parts.text", "systemInstruction.role",
        "tools", "toolConfig", "cachedContent",
        "generationConfig.responseMimeType", "generationConfig.responseSchema", "generationConfig.responseJsonSchema",
        "generationConfig.responseModalities", "generationConfig.thinkingConfig",
        "generationConfig.thinkingConfig.thinkingBudget", "generationConfig.thinkingConfig.includeThoughts",
        "generationConfig.imageConfig", "generationConfig.imageConfig.aspectRatio", "generationConfig.speechConfig",
        "generationConfig.mediaResolution",
    },
}


class UnsupportedByApiVersion(ValueError):
    """A request needs fields that the configured Gemini API version does not have."""


def check_api_version(api_version: str) -> None:
    if api_version not in ACCEPTED_PATHS:
        raise UnsupportedByApiVersion(
            f"unknown Gemini API version {api_version!r}: use one of {', '.join(sorted(ACCEPTED_PATHS))} "
            f"({API_VERSION_SETTING})")


def request_paths(contents: Iterable[types.Content], config: types.GenerateContentConfig) -> set[str]:
    """The JSON paths (lowerCamel, list indexes left out) that the request will carry."""
    paths: set[str] = set()
    for content in contents:
        paths.update(_paths(content, "contents"))
    for name in type(config).model_fields:
        value = getattr(config, name)
        if value is None:
            continue
        if name not in CONFIG_PATHS:
            raise UnsupportedByApiVersion(f"GenerateContentConfig.{name} has no known place in a Gemini request; "
                                          "add it to gemini_versions.CONFIG_PATHS")
        path = CONFIG_PATHS[name]
        if path is not None:
            paths.update(_paths(value, path))
    return paths


def check_request(api_version: str, contents: Iterable[types.Content], config: types.GenerateContentConfig, *,
                  purpose: str) -> None:
    """Raises UnsupportedByApiVersion, naming the fields and the fix, if `api_version` lacks anything the request
    sends."""
    check_api_version(api_version)
    missing = sorted(request_paths(contents, config) - ACCEPTED_PATHS[api_version])
    if missing:
        have = [version for version, accepted in sorted(ACCEPTED_PATHS.items())
                if request_paths(contents, config) <= accepted]
        fix = f"set {API_VERSION_SETTING}={have[0]}" if have else "no API version has them all"
        raise UnsupportedByApiVersion(f"Gemini API {api_version} has no {', '.join(missing)}, which the {purpose} "
                                      f"request sends; {fix}")


def _paths(value: object, path: str) -> Iterator[str]:
    yield path
    if isinstance(value, pydantic.BaseModel):
        for name in type(value).model_fields:
            child = getattr(value, name)
            if child is not None:
                yield from _paths(child, f"{path}.{_camel(name)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, pydantic.BaseModel):
                yield from _paths(item, path)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)
