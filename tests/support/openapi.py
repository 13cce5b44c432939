"""The committed OpenAPI document (gateway/openapi/storyloom.swagger.json, grpc-gateway's protoc-gen-swagger 1.6),
made into what the gateway really serves, for schemathesis.

What the generator leaves out or writes its own way, and this adds or rewrites:

- path templates: `/v1/{name=tasks/*}` is no OpenAPI path; each `*` becomes a path parameter of one segment
  (`/v1/tasks/{name_1}`), and a `users/*` segment is `me` (the caller; another user is always NOT_FOUND);
- errors: every operation may answer a `google.rpc.Status` as JSON (`default` response, `rpcStatus`), whose
  `details` are `Any`s printed with an `@type`;
- the API key (`x-api-key` header) as the security scheme of every operation;
- repeated query parameters are sent `?states=A&states=B` (collectionFormat multi), as Envoy reads them;
- server streams answer `text/event-stream` (Envoy's SSE framing) and `google.api.HttpBody` answers carry their own
  media type, so neither has a JSON schema to check.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from storyloom.v1 import conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "gateway" / "openapi" / "storyloom.swagger.json"
# Bindings whose pattern the generator dropped (`/v1/{conversation}:sendMessage`): the proto's pattern.
DROPPED_PATTERNS = {"conversation": "users/*/conversations/*"}
_TEMPLATE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


def _streaming_operations() -> set[str]:
    return {m.name for f in (conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2)
            for s in f.DESCRIPTOR.services_by_name.values() for m in s.methods if m.server_streaming}


def _rewrite_path(path: str) -> tuple[str, dict[str, list[tuple[str, bool]]]]:
    """The OpenAPI path, and for each template variable the parameters that replace it (name, is-user-segment)."""
    replaced: dict[str, list[tuple[str, bool]]] = {}

    def segment(match: re.Match[str]) -> str:
        variable, pattern = match.group(1), match.group(2) or DROPPED_PATTERNS.get(match.group(1), "*")
        parts, params = [], []
        for i, part in enumerate(pattern.split("/")):
            if part == "*":
                name = f"{variable.replace('.', '_')}_{len(params) + 1}"
                user = i > 0 and pattern.split("/")[i - 1] == "users"
                params.append((name, user))
                parts.append(f"{{{name}}}")
            else:
                parts.append(part)
        replaced[variable] = params
        return "/".join(parts)

    return _TEMPLATE.sub(segment, path), replaced


def fuzzable_document() -> dict[str, Any]:
    source = json.loads(DOCUMENT.read_text())
    document = copy.deepcopy(source)
    streaming = _streaming_operations()
    document["securityDefinitions"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
    document["security"] = [{"ApiKey": []}]
    document["definitions"]["protobufAny"] = {"type": "object", "properties": {"@type": {"type": "string"}},
                                              "additionalProperties": True}
    paths: dict[str, Any] = {}
    for path, operations in source["paths"].items():
        new_path, replaced = _rewrite_path(path)
        for method, operation in operations.items():
            operation = copy.deepcopy(operation)
            parameters = []
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in replaced:
                    for name, user in replaced[parameter["name"]]:
                        new = {"name": name, "in": "path", "required": True, "type": "string"}
                        if user:
                            new["enum"] = ["me"]
                        else:
                            new["pattern"] = "^[a-z0-9][a-z0-9-]{0,62}$"
                        parameters.append(new)
                    continue
                if parameter.get("type") == "array":
                    parameter["collectionFormat"] = "multi"
                parameters.append(parameter)
            operation["parameters"] = parameters
            responses = operation["responses"]
            responses["default"] = {"description": "An error: a google.rpc.Status as JSON.",
                                    "schema": {"$ref": "#/definitions/rpcStatus"}}
            ok = responses.get("200", {})
            body_ref = ok.get("schema", {}).get("$ref", "")
            if body_ref.endswith("/apiHttpBody"):  # raw media, streamed or not (GetMedia, Synthesize, ExportStory)
                operation["produces"] = ["*/*"]
                ok.pop("schema", None)
            elif operation.get("operationId") in streaming:
                operation["produces"] = ["text/event-stream", "application/json"]
                ok.pop("schema", None)
            paths.setdefault(new_path, {})[method] = operation
    document["paths"] = paths
    return document
