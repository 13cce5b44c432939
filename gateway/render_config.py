#!/usr/bin/env python3
"""Render the Storyloom Envoy gateway config from gateway/envoy.yaml.tmpl.

Standard library only, so it runs from any Python (3.11+):

    python gateway/render_config.py --listen-port 8080 \
        --backend 127.0.0.1:50051 --descriptor gateway/storyloom.pb \
        --admin-port 9901 -o /tmp/envoy.yaml
    envoy -c /tmp/envoy.yaml

`render()` reads the descriptor set (the one Envoy will load) to find the
services of package storyloom.v1 and which of their methods stream: streaming
methods get routes without an overall timeout. The output is YAML whose
generated parts are JSON (flow style), which Envoy reads as YAML.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

TEMPLATE = Path(__file__).resolve().with_name("envoy.yaml.tmpl")
REQUEST_CHECKS = TEMPLATE.with_name("request_checks.lua")
CLUSTER = "storyloom_backend"
PACKAGE = "storyloom.v1"

# Envoy's own error replies (local replies) for REST callers: HTTP status ->
# (google.rpc.Code number, its name, ErrorInfo reason). The HTTP status is
# kept; the body becomes google.rpc.Status-like JSON. Any other status >= 400
# falls through to UNKNOWN.
LOCAL_REPLY_CODES: dict[int, tuple[int, str, str]] = {
    400: (3, "INVALID_ARGUMENT", "INVALID_REQUEST"),
    401: (16, "UNAUTHENTICATED", "UNAUTHENTICATED"),
    403: (7, "PERMISSION_DENIED", "PERMISSION_DENIED"),
    404: (5, "NOT_FOUND", "UNKNOWN_PATH"),
    408: (4, "DEADLINE_EXCEEDED", "REQUEST_TIMEOUT"),
    409: (10, "ABORTED", "CONFLICT"),
    413: (8, "RESOURCE_EXHAUSTED", "REQUEST_TOO_LARGE"),
    414: (3, "INVALID_ARGUMENT", "URL_TOO_LONG"),
    429: (8, "RESOURCE_EXHAUSTED", "RATE_LIMITED"),
    431: (3, "INVALID_ARGUMENT", "HEADERS_TOO_LARGE"),
    500: (13, "INTERNAL", "GATEWAY_ERROR"),
    501: (12, "UNIMPLEMENTED", "NOT_IMPLEMENTED"),
    502: (14, "UNAVAILABLE", "BAD_GATEWAY"),
    503: (14, "UNAVAILABLE", "BACKEND_UNAVAILABLE"),
    504: (4, "DEADLINE_EXCEEDED", "GATEWAY_TIMEOUT"),
}
FALLBACK_CODE = (2, "UNKNOWN", "GATEWAY_ERROR")
ERROR_DOMAIN = "storyloom.v1"

DEFAULT_UNARY_TIMEOUT_S = 300
DEFAULT_STREAM_IDLE_TIMEOUT_S = 3600
# Streaming methods of the standard services the server also offers (not in
# our descriptor set): they must not be cut by the unary timeout either.
EXTRA_CLIENT_STREAMING_PATHS = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
)
EXTRA_STREAMING_PATHS = ("/grpc.health.v1.Health/Watch", *EXTRA_CLIENT_STREAMING_PATHS)
MAX_REQUEST_BODY = 17 * 1024 * 1024  # CreateMedia accepts 16 MiB of content
MAX_RESPONSE_BODY = 32 * 1024 * 1024

# Request body limits by route (413 REQUEST_TOO_LARGE over them). A request without an API key
# (neither x-api-key nor authorization) can only be refused, so it may carry little.
ANONYMOUS_BODY_LIMIT = 16 * 1024
# REST JSON bodies and the requests of server streams: small messages (texts are at most 4000
# characters); only uploads carry media.
JSON_BODY_LIMIT = 1024 * 1024
# POST /v1/media (CreateMedia), and unary gRPC and gRPC-Web calls (CreateMedia; Transcribe with
# up to 4 MiB of audio): the server's own limit on a message.
UPLOAD_BODY_LIMIT = MAX_REQUEST_BODY
UPLOAD_PATH = "/v1/media"
# request_checks.lua: the URL (path and query) and the header list, counted as HTTP/2 counts it.
MAX_URL_BYTES = 4096
MAX_HEADER_LIST_BYTES = 7 * 1024
# Envoy's own memory: the overload manager sheds load as the heap nears this.
DEFAULT_MAX_HEAP_MB = 512
MAX_DOWNSTREAM_CONNECTIONS = 10_000

# --- descriptor set (protobuf wire format, read by hand: stdlib only) ----------


@dataclass(frozen=True)
class Method:
    service: str  # full name, e.g. storyloom.v1.TaskService
    name: str
    client_streaming: bool
    server_streaming: bool
    has_http_rule: bool

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def streaming(self) -> bool:
        return self.client_streaming or self.server_streaming


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """Yields (field number, value) of one message; value is int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _varint(buf, i)
        elif wire_type == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire_type == 2:
            length, i = _varint(buf, i)
            value, i = buf[i : i + length], i + length
        elif wire_type == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire_type} in descriptor set")
        yield number, value


_HTTP_RULE_EXTENSION = 72295728  # google.api.http on MethodOptions


def read_methods(descriptor_path: str | os.PathLike[str], package: str = PACKAGE) -> list[Method]:
    """All methods of all services of `package` in a FileDescriptorSet file."""
    data = Path(descriptor_path).read_bytes()
    methods: list[Method] = []
    for number, file_bytes in _fields(data):
        if number != 1:  # FileDescriptorSet.file
            continue
        file_fields = list(_fields(file_bytes))
        pkg = next((v.decode() for n, v in file_fields if n == 2), "")
        if pkg != package:
            continue
        for n, service_bytes in file_fields:
            if n != 6:  # FileDescriptorProto.service
                continue
            service_fields = list(_fields(service_bytes))
            service = f"{pkg}.{next(v.decode() for sn, v in service_fields if sn == 1)}"
            for sn, method_bytes in service_fields:
                if sn != 2:  # ServiceDescriptorProto.method
                    continue
                m = dict(name="", client=False, server=False, http=False)
                for mn, v in _fields(method_bytes):
                    if mn == 1:
                        m["name"] = v.decode()
                    elif mn == 4:  # MethodOptions
                        m["http"] = any(on == _HTTP_RULE_EXTENSION for on, _ in _fields(v))
                    elif mn == 5:
                        m["client"] = bool(v)
                    elif mn == 6:
                        m["server"] = bool(v)
                methods.append(Method(service, m["name"], m["client"], m["server"], m["http"]))
    if not methods:
        raise ValueError(f"{descriptor_path}: no services of package {package}")
    return methods


# --- config pieces ----------------------------------------------------------------


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"backend address must be host:port, got {address!r}")
    host = host.strip("[]")  # [::1]:50051
    if not host:
        raise ValueError(f"backend address has no host: {address!r}")
    return host, int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _local_reply_mappers() -> list[dict]:
    # Which local replies get a JSON body: those to REST callers only. gRPC
    # and gRPC-Web callers keep Envoy's gRPC local replies (grpc-status and a
    # plain grpc-message) -- a JSON body there would end up inside
    # grpc-message. By the time a local reply is sent the request headers may
    # have been rewritten: the grpc_web filter turns gRPC-Web requests into
    # application/grpc, and the transcoder turns REST requests into
    # application/grpc too, but marks them with x-envoy-original-path. So a
    # request is REST when its content-type is absent, or is not
    # application/grpc*, or it has x-envoy-original-path (Envoy strips that
    # header from requests coming from outside). (An inverted header matcher
    # never matches an absent header, hence the explicit absent case.)
    def header(name: str, **match) -> dict:
        return {"header_filter": {"header": {"name": name, **match}}}

    is_rest = {
        "or_filter": {
            "filters": [
                header("content-type", present_match=False),
                header("content-type", string_match={"prefix": "application/grpc"}, invert_match=True),
                header("x-envoy-original-path", present_match=True),
            ]
        }
    }

    def status_filter(op: str, value: int) -> dict:
        return {
            "status_code_filter": {
                "comparison": {
                    "op": op,
                    "value": {"default_value": value, "runtime_key": f"storyloom.local_reply.{op.lower()}_{value}"},
                }
            }
        }

    def status_body(code: int, name: str, reason: str, message: str = "%LOCAL_REPLY_BODY%") -> dict:
        return {
            "json_format": {
                "code": code,
                "message": message,
                "status": name,
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": reason,
                        "domain": ERROR_DOMAIN,
                        # map<string, string>: only string values here
                        # (%RESPONSE_CODE% would print as a JSON number).
                        "metadata": {"source": "gateway", "detail": "%RESPONSE_CODE_DETAILS%"},
                    }
                ],
            }
        }

    healthz = header(":path", string_match={"exact": "/healthz"})
    mappers = [
        # GET /healthz (answered by the health_check filter, empty body).
        {
            "filter": {"and_filter": {"filters": [status_filter("EQ", 200), healthz]}},
            "body_format_override": {"json_format": {"status": "SERVING"}},
        },
        {
            "filter": {"and_filter": {"filters": [status_filter("GE", 400), healthz]}},
            "body_format_override": status_body(
                14, "UNAVAILABLE", "BACKEND_UNAVAILABLE", "the Storyloom backend is not healthy"
            ),
        },
    ]
    mappers += [
        {
            "filter": {"and_filter": {"filters": [status_filter("EQ", http), is_rest]}},
            "body_format_override": status_body(*LOCAL_REPLY_CODES[http]),
        }
        for http in sorted(LOCAL_REPLY_CODES)
    ]
    mappers.append(
        {
            "filter": {"and_filter": {"filters": [status_filter("GE", 400), is_rest]}},
            "body_format_override": status_body(*FALLBACK_CODE),
        }
    )
    return mappers


BODY_LIMITS_FILTER = "storyloom.body_limits"


def _body_limit(limit: int | None) -> dict[str, Any]:
    """typed_per_filter_config giving a route its request body limit (None: none, for client streams).

    The body_size_limit filter has no per-route settings, so each route runs its own copy of it
    through the filter_chain filter (whose default chain is empty)."""
    if limit is None:
        return {}
    chain: dict[str, Any] = {"filters": [{"name": "envoy.filters.http.body_size_limit", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.body_size_limit.v3.BodySizeLimit",
        "max_request_bytes": limit}}]}
    return {BODY_LIMITS_FILTER: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.filter_chain.v3.FilterChainConfigPerRoute",
        "filter_chain": chain}}


_ANONYMOUS = [{"name": "x-api-key", "present_match": False}, {"name": "authorization", "present_match": False}]


def _routes(methods: list[Method], unary_timeout_s: int, stream_idle_timeout_s: int) -> list[dict[str, Any]]:
    retry = {"retry_on": "connect-failure,refused-stream", "num_retries": 1}
    unary: dict[str, Any] = {"cluster": CLUSTER, "timeout": f"{unary_timeout_s}s", "retry_policy": retry}
    stream: dict[str, Any] = {
        "cluster": CLUSTER,
        "timeout": "0s",  # a stream may live as long as it is active...
        "idle_timeout": f"{stream_idle_timeout_s}s",  # ...and dies after this long silent
        "retry_policy": retry,
    }
    # REST paths, before the transcoder rewrites them: only the body limit is taken from these.
    routes: list[dict[str, Any]] = [
        {"name": "rest-anonymous", "match": {"prefix": "/v1/", "headers": _ANONYMOUS}, "route": unary,
         "typed_per_filter_config": _body_limit(ANONYMOUS_BODY_LIMIT)},
        {"name": "rest-upload", "match": {"path": UPLOAD_PATH}, "route": unary,
         "typed_per_filter_config": _body_limit(UPLOAD_BODY_LIMIT)},
        {"name": "rest", "match": {"prefix": "/v1/"}, "route": unary,
         "typed_per_filter_config": _body_limit(JSON_BODY_LIMIT)},
    ]
    # gRPC paths: gRPC and gRPC-Web as they came, REST once transcoded.
    # A client stream may go on for as long as it lives (Converse: 32 KB of audio a second), so it
    # has no overall limit; the server bounds each of its messages.
    client_streams = {m.grpc_path for m in methods if m.client_streaming} | set(EXTRA_CLIENT_STREAMING_PATHS)
    streaming = [m.grpc_path for m in methods if m.streaming] + list(EXTRA_STREAMING_PATHS)
    for path in streaming:
        limit = None if path in client_streams else JSON_BODY_LIMIT
        routes.append({"name": f"{path} anonymous", "match": {"path": path, "headers": _ANONYMOUS}, "route": stream,
                       "typed_per_filter_config": _body_limit(ANONYMOUS_BODY_LIMIT)})
        routes.append({"name": path, "match": {"path": path}, "route": stream,
                       "typed_per_filter_config": _body_limit(limit)})
    routes += [
        {"name": "unary anonymous", "match": {"prefix": "/", "headers": _ANONYMOUS}, "route": unary,
         "typed_per_filter_config": _body_limit(ANONYMOUS_BODY_LIMIT)},
        {"name": "unary", "match": {"prefix": "/"}, "route": unary,
         "typed_per_filter_config": _body_limit(UPLOAD_BODY_LIMIT)},
    ]
    return routes


def _overload_manager(max_heap_mb: int) -> str:
    """Envoy's own memory: free memory is returned to the system at 90 % of the heap limit, the
    streams holding the most buffered data are reset from 85 % on (all of them by 95 %), and no new
    request is accepted at 98 %."""
    fixed_heap = "envoy.resource_monitors.fixed_heap"
    connections = "envoy.resource_monitors.global_downstream_max_connections"
    overload: dict[str, Any] = {
        "refresh_interval": "0.25s",
        "resource_monitors": [
            {"name": fixed_heap, "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
                "max_heap_size_bytes": max_heap_mb * 1024 * 1024}},
            {"name": connections, "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3."
                         "DownstreamConnectionsConfig",
                "max_active_downstream_connections": MAX_DOWNSTREAM_CONNECTIONS}},
        ],
        "actions": [
            {"name": "envoy.overload_actions.shrink_heap",
             "triggers": [{"name": fixed_heap, "threshold": {"value": 0.90}}]},
            {"name": "envoy.overload_actions.reset_high_memory_stream",
             "triggers": [{"name": fixed_heap, "scaled": {"scaling_threshold": 0.85, "saturation_threshold": 0.95}}]},
            {"name": "envoy.overload_actions.stop_accepting_requests",
             "triggers": [{"name": fixed_heap, "threshold": {"value": 0.98}}]},
        ],
        # Streams are accounted from 1 MiB of buffered data on, so the biggest can be reset.
        "buffer_factory_config": {"minimum_account_to_track_power_of_two": 20},
    }
    return "overload_manager: " + json.dumps(overload)


def _request_checks() -> str:
    """request_checks.lua with its limits filled in (Lua patterns use "$", so no string.Template)."""
    source = REQUEST_CHECKS.read_text()
    for name, value in (("MAX_URL_BYTES", MAX_URL_BYTES), ("MAX_HEADER_LIST_BYTES", MAX_HEADER_LIST_BYTES)):
        source = source.replace(f"${{{name}}}", str(value))
    assert "${" not in source, "request_checks.lua has a placeholder render_config.py does not fill"
    return json.dumps(source)


# The gRPC status of the access log: the backend's, as it answered (a transcoded error keeps
# only an HTTP status, from which Envoy would guess: 404 -> 12), else Envoy's own (trailers, or
# guessed from the HTTP status of a reply the gateway made itself).
_GRPC_STATUS = (
    "%CEL('storyloom' in metadata.filter_metadata ? metadata.filter_metadata['storyloom']['grpc_status']"
    " : response.grpc_status)%"
)


def _access_log() -> str:
    fmt = (
        "[%START_TIME%] \"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%\" -> %REQ(:PATH)% %PROTOCOL% "
        f"%RESPONSE_CODE% grpc={_GRPC_STATUS} %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% "
        "%BYTES_SENT%B %DURATION%ms \"%REQ(CONTENT-TYPE)%\"\n"
    )
    log = [
        {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                "log_format": {"text_format_source": {"inline_string": fmt}},
            },
        }
    ]
    return "          access_log: " + json.dumps(log)


def render(
    listen_port: int,
    backend_address: str,
    descriptor_path: str | os.PathLike[str],
    admin_port: int | None = None,
    *,
    listen_host: str = "127.0.0.1",
    admin_host: str = "127.0.0.1",
    unary_timeout_s: int = DEFAULT_UNARY_TIMEOUT_S,
    stream_idle_timeout_s: int = DEFAULT_STREAM_IDLE_TIMEOUT_S,
    cors_origin_regex: str = ".*",
    access_log: bool = False,
    max_heap_mb: int = DEFAULT_MAX_HEAP_MB,
) -> str:
    """Returns the Envoy config (YAML) for one gateway.

    listen_port: the one port for REST, gRPC-Web and gRPC (0 = any free port;
        read it back from the admin API). backend_address: the Storyloom gRPC
        server, host:port (an IP is used as is, a name is resolved by DNS).
    descriptor_path: the FileDescriptorSet (gateway/storyloom.pb) Envoy loads;
        it is read here too, and written into the config as given, so pass an
        absolute path unless Envoy runs from the same directory.
    admin_port: Envoy's admin API on admin_host, or None for no admin API.
    max_heap_mb: the heap the overload manager keeps Envoy under.
    """
    methods = read_methods(descriptor_path)
    services = sorted({m.service for m in methods})
    backend_host, backend_port = _split_address(backend_address)
    if admin_port is None:
        admin_block = "# (no admin API)"
    else:
        admin_block = (
            "admin:\n"
            f"  address:\n    socket_address: {{address: {json.dumps(admin_host)}, port_value: {int(admin_port)}}}"
        )
    values = {
        "ADMIN_BLOCK": admin_block,
        "OVERLOAD_BLOCK": _overload_manager(int(max_heap_mb)),
        "REQUEST_CHECKS": _request_checks(),
        "BODY_LIMITS_FILTER": json.dumps(BODY_LIMITS_FILTER),
        "LISTEN_HOST": json.dumps(listen_host),
        "LISTEN_PORT": int(listen_port),
        "UNARY_TIMEOUT": f"{int(unary_timeout_s)}s",
        "ACCESS_LOG_BLOCK": _access_log() if access_log else "          # (no access log)",
        "LOCAL_REPLY_MAPPERS": json.dumps(_local_reply_mappers()),
        "CORS_ORIGIN_REGEX": json.dumps(cors_origin_regex),
        "ROUTES": json.dumps(_routes(methods, int(unary_timeout_s), int(stream_idle_timeout_s))),
        "DESCRIPTOR_PATH": json.dumps(os.fspath(descriptor_path)),
        "SERVICES": json.dumps(services),
        "MAX_REQUEST_BODY": MAX_REQUEST_BODY,
        "MAX_RESPONSE_BODY": MAX_RESPONSE_BODY,
        "CLUSTER_TYPE": "STATIC" if _is_ip(backend_host) else "STRICT_DNS",
        "BACKEND_HOST": json.dumps(backend_host),
        "BACKEND_PORT": backend_port,
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen-port", type=int, default=8080)
    parser.add_argument("--listen-host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--backend", default="127.0.0.1:50051", help="gRPC server host:port")
    parser.add_argument(
        "--descriptor",
        default=str(Path(__file__).resolve().with_name("storyloom.pb")),
        help="FileDescriptorSet (default: gateway/storyloom.pb, absolute)",
    )
    parser.add_argument("--admin-port", type=int, default=None, help="Envoy admin API port (default: none)")
    parser.add_argument("--unary-timeout", type=int, default=DEFAULT_UNARY_TIMEOUT_S, metavar="SECONDS")
    parser.add_argument("--stream-idle-timeout", type=int, default=DEFAULT_STREAM_IDLE_TIMEOUT_S, metavar="SECONDS")
    parser.add_argument("--cors-origin-regex", default=".*")
    parser.add_argument("--access-log", action="store_true", help="log every request to stdout")
    parser.add_argument("--max-heap-mb", type=int, default=DEFAULT_MAX_HEAP_MB,
                        help="Envoy's heap limit for the overload manager")
    parser.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    config = render(
        args.listen_port,
        args.backend,
        args.descriptor,
        args.admin_port,
        listen_host=args.listen_host,
        unary_timeout_s=args.unary_timeout,
        stream_idle_timeout_s=args.stream_idle_timeout,
        cors_origin_regex=args.cors_origin_regex,
        access_log=args.access_log,
        max_heap_mb=args.max_heap_mb,
    )
    if args.output == "-":
        sys.stdout.write(config)
    else:
        Path(args.output).write_text(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
