"""gateway/render_config.py renders a config that Envoy accepts and that covers the whole contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from storyloom.v1 import conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2
from tests.support.gateway import DESCRIPTOR, GATEWAY_DIR, render_config

SERVICES = {
    f.services_by_name[name].full_name: f.services_by_name[name]
    for f, name in [
        (task_pb2.DESCRIPTOR, "TaskService"),
        (media_pb2.DESCRIPTOR, "MediaService"),
        (conversation_pb2.DESCRIPTOR, "ConversationService"),
        (story_pb2.DESCRIPTOR, "StoryService"),
        (voice_pb2.DESCRIPTOR, "VoiceService"),
    ]
}


def validate(envoy: str, config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "envoy.yaml"
    path.write_text(config)
    return subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path), "--disable-hot-restart", "--log-level", "warning"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("admin_port", [None, 9901], ids=["without-admin", "with-admin"])
def test_envoy_accepts_the_rendered_config(envoy: str, tmp_path: Path, admin_port: int | None) -> None:
    config = render_config.render(8080, "127.0.0.1:50051", DESCRIPTOR, admin_port, access_log=True)
    result = validate(envoy, config, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("admin:" in config) == (admin_port is not None)


def test_envoy_accepts_a_config_for_a_backend_found_by_dns_name(envoy: str, tmp_path: Path) -> None:
    config = render_config.render(8080, "storyloom:50051", DESCRIPTOR, listen_host="0.0.0.0")
    assert "type: STRICT_DNS" in config
    result = validate(envoy, config, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_ip_backend_needs_no_dns() -> None:
    assert "type: STATIC" in render_config.render(8080, "127.0.0.1:50051", DESCRIPTOR)
    assert "type: STATIC" in render_config.render(8080, "[::1]:50051", DESCRIPTOR)


def test_a_backend_address_without_a_port_is_refused() -> None:
    with pytest.raises(ValueError):
        render_config.render(8080, "localhost", DESCRIPTOR)


def test_the_descriptor_reader_sees_every_service_and_method_of_the_contract() -> None:
    methods = render_config.read_methods(DESCRIPTOR)
    found = {(m.service, m.name): m for m in methods}
    expected = {(s, m.name): m for s, d in SERVICES.items() for m in d.methods}
    assert set(found) == set(expected)
    for key, method in expected.items():
        assert found[key].client_streaming == method.client_streaming, key
        assert found[key].server_streaming == method.server_streaming, key


def test_every_service_is_transcoded() -> None:
    config = render_config.render(8080, "127.0.0.1:50051", DESCRIPTOR)
    services_line = next(line for line in config.splitlines() if line.strip().startswith("services:"))
    for service in SERVICES:
        assert f'"{service}"' in services_line


def test_every_rpc_except_the_bidi_converse_has_a_rest_mapping() -> None:
    unmapped = [m.grpc_path for m in render_config.read_methods(DESCRIPTOR) if not m.has_http_rule]
    assert unmapped == ["/storyloom.v1.VoiceService/Converse"]


def test_streaming_rpcs_get_routes_without_an_overall_timeout() -> None:
    methods = render_config.read_methods(DESCRIPTOR)
    routes = render_config._routes(methods, unary_timeout_s=300, stream_idle_timeout_s=3600)
    by_path = {r["match"].get("path"): r["route"] for r in routes}
    streaming = [m for m in methods if m.streaming]
    assert {m.grpc_path for m in streaming} >= {
        "/storyloom.v1.TaskService/WatchTask",
        "/storyloom.v1.MediaService/GetMedia",
        "/storyloom.v1.ConversationService/SendMessage",
        "/storyloom.v1.VoiceService/Converse",
    }
    for m in streaming:
        assert by_path[m.grpc_path]["timeout"] == "0s"
        assert by_path[m.grpc_path]["idle_timeout"] == "3600s"
    catch_all = routes[-1]
    assert catch_all["match"] == {"prefix": "/"} and catch_all["route"]["timeout"] == "300s"


def test_every_local_reply_mapper_spares_grpc_callers() -> None:
    mappers = render_config._local_reply_mappers()
    for mapper in mappers:
        filters = mapper["filter"]["and_filter"]["filters"]
        is_healthz = any(f.get("header_filter", {}).get("header", {}).get("name") == ":path" for f in filters)
        assert is_healthz or any("or_filter" in f for f in filters), mapper


def test_the_cli_writes_the_config_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "gw.yaml"
    subprocess.run(
        [sys.executable, str(GATEWAY_DIR / "render_config.py"), "--listen-port", "18080",
         "--backend", "127.0.0.1:50052", "--admin-port", "19901", "-o", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    text = out.read_text()
    assert "port_value: 18080" in text and "port_value: 50052" in text and "port_value: 19901" in text
    assert str(DESCRIPTOR) in text


def body_limit(route: dict) -> int | None:
    config = route.get("typed_per_filter_config", {}).get(render_config.BODY_LIMITS_FILTER)
    if config is None:
        return None
    (limit_filter,) = config["filter_chain"]["filters"]
    return int(limit_filter["typed_config"]["max_request_bytes"])


def test_each_route_gets_the_body_limit_its_callers_need() -> None:
    routes = {r["name"]: r for r in render_config._routes(render_config.read_methods(DESCRIPTOR), 300, 3600)}
    anonymous, json_limit, upload = (render_config.ANONYMOUS_BODY_LIMIT, render_config.JSON_BODY_LIMIT,
                                     render_config.UPLOAD_BODY_LIMIT)
    assert anonymous < json_limit < upload
    assert body_limit(routes["rest-anonymous"]) == anonymous
    assert body_limit(routes["rest-upload"]) == upload and routes["rest-upload"]["match"] == {"path": "/v1/media"}
    assert body_limit(routes["rest"]) == json_limit
    converse = "/storyloom.v1.VoiceService/Converse"
    assert body_limit(routes[converse]) is None  # a client stream: the server bounds each message
    assert body_limit(routes["/storyloom.v1.TaskService/WatchTask"]) == json_limit
    assert body_limit(routes["unary"]) == upload
    # Without a key, every path carries little; those routes come before their keyed twins.
    names = list(routes)
    for name, route in routes.items():
        if name.endswith("anonymous"):
            assert body_limit(route) == anonymous, name
    assert names.index(f"{converse} anonymous") < names.index(converse)
    assert names.index("rest-anonymous") < names.index("rest-upload") < names.index("rest") < names.index("unary")


def test_the_request_checks_get_their_limits() -> None:
    config = render_config.render(8080, "127.0.0.1:50051", DESCRIPTOR)
    assert f"local MAX_URL_BYTES = {render_config.MAX_URL_BYTES}" in config
    assert f"local MAX_HEADER_LIST_BYTES = {render_config.MAX_HEADER_LIST_BYTES}" in config
    assert "hpack_table_size: 0" in config


def test_the_openapi_document_has_an_operation_for_every_rest_mapping() -> None:
    """gateway/openapi/storyloom.swagger.json is written by `make generate` (grpc-gateway's protoc-gen-swagger) and
    drift-checked by `make check-generated`; here: it is Swagger 2.0 and misses no RPC that REST reaches."""
    document = json.loads((GATEWAY_DIR / "openapi" / "storyloom.swagger.json").read_text())
    assert document["swagger"] == "2.0"
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    mapped = {m.name for m in render_config.read_methods(DESCRIPTOR) if m.has_http_rule}
    assert operations == mapped
