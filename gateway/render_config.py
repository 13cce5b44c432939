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
import base64
import ipaddress
import json
import os
import sys
import urllib.parse
from collections.abc import Sequence
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


def _header_filter(name: str, **match) -> dict:
    return {"header_filter": {"header": {"name": name, **match}}}


def _is_rest() -> dict:
    """Matches local replies to REST callers (see _local_reply_mappers)."""
    return {
        "or_filter": {
            "filters": [
                _header_filter("content-type", present_match=False),
                _header_filter("content-type", string_match={"prefix": "application/grpc"}, invert_match=True),
                _header_filter("x-envoy-original-path", present_match=True),
            ]
        }
    }


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
    header = _header_filter
    is_rest = _is_rest()

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


# --- sign-in tokens (jwt_authn) and TLS ------------------------------------------------------------------------
#
# A request whose `authorization` is `Bearer <JWT>` must carry a valid token of a configured issuer; anything
# else (an `x-api-key`, a bearer API key, which has no dots, or no credential) passes untouched to the server,
# which checks keys. So does an unsecured token (`alg: none`, an empty signature): jwt_authn would call it
# malformed, the server refuses it for its algorithm. A verified token is forwarded, and the server verifies it
# again (direct gRPC callers are held to the same rule). Refusals are the server's errors: 401 UNAUTHENTICATED
# (503 UNAVAILABLE when the keys cannot be fetched) with one ErrorInfo whose reason says why, JSON for REST and a
# grpc-status-details-bin for gRPC.

TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA")
JWT_BEARER_REGEX = r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"

# jwt_authn's failures (Envoy's response code details: jwt_verify_lib's status, spaces as underscores), by reason.
JWT_FAILURES: list[tuple[str, int, str, tuple[str, ...]]] = [
    # (reason, HTTP status, message, the statuses)
    ("TOKEN_EXPIRED", 401, "The token has expired; sign in again for a new one.", ("Jwt is expired",)),
    ("TOKEN_NOT_YET_VALID", 401, "The token is not valid yet (its nbf or iat is in the future); check the clocks.",
     ("Jwt not yet valid",)),
    # jwt_authn answers 403 for an audience it does not accept; it is a token like the others to us.
    ("TOKEN_AUDIENCE", 401, "The token is meant for another audience.", ("Audiences in Jwt are not allowed",)),
    ("TOKEN_ISSUER", 401, "Tokens from this issuer are not accepted here.", ("Jwt issuer is not configured",)),
    # A key of the issuer has no algorithm but its own, so a token whose alg the issuer's keys do not have
    # (HS256 made with a public key) has no key to match: the gateway cannot tell that from an unknown kid.
    ("TOKEN_SIGNATURE", 401, "The token's signature cannot be verified.",
     ("Jwt verification fails", "Jwks doesn't have key to match kid or alg from Jwt")),
    ("TOKEN_ALGORITHM", 401, "The token's algorithm is not accepted.",
     ("Jwt header [alg] field value is invalid", "Jwt header [alg] field is not a string")),
]
JWKS_UNAVAILABLE = ("TOKEN_KEYS_UNAVAILABLE", 503,
                    "The issuer's public keys cannot be fetched right now, so the token cannot be checked; "
                    "try again later.")
# The rest of jwt_verify_lib's token statuses say the token cannot be parsed (bad base64 or JSON, a claim of the
# wrong type...); their texts vary between versions, so they are matched by prefix.
JWT_OTHER = ("TOKEN_MALFORMED", 401, "The token is not a well-formed JWT.")
_RC_PREFIX = "jwt_authn_access_denied{"


@dataclass(frozen=True)
class TokenIssuer:
    """One identity provider, as the server's STORYLOOM_JWT_ISSUERS lists it (the same JSON)."""

    issuer: str
    audiences: tuple[str, ...] = ()
    jwks_url: str = ""
    jwks_file: str = ""
    algorithms: tuple[str, ...] = TOKEN_ALGORITHMS

    @classmethod
    def from_json(cls, entry: dict) -> TokenIssuer:
        audiences, algorithms = entry.get("audiences", ()), entry.get("algorithms", TOKEN_ALGORITHMS)
        issuer = cls(str(entry.get("issuer") or ""),
                     (audiences,) if isinstance(audiences, str) else tuple(audiences),
                     str(entry.get("jwks_url") or ""), str(entry.get("jwks_file") or ""),
                     (algorithms,) if isinstance(algorithms, str) else tuple(algorithms))
        if not issuer.issuer or not (issuer.jwks_url or issuer.jwks_file):
            raise ValueError(f"a token issuer needs `issuer` and a `jwks_url` or `jwks_file`: {entry!r}")
        if not set(issuer.algorithms) <= set(TOKEN_ALGORITHMS):
            raise ValueError(f"token issuer {issuer.issuer!r}: algorithms must be among {TOKEN_ALGORITHMS}")
        return issuer


def read_token_issuers(text: str) -> list[TokenIssuer]:
    entries = json.loads(text) if text.strip() else []
    return [TokenIssuer.from_json(e) for e in (entries if isinstance(entries, list) else [entries])]


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _pb_field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _pb_varint(number << 3) + _pb_varint(value)
    return _pb_varint(number << 3 | 2) + _pb_varint(len(value)) + value


def status_details_bin(code: int, message: str, reason: str, metadata: dict[str, str]) -> str:
    """A google.rpc.Status with one ErrorInfo, serialized and base64-encoded: the grpc-status-details-bin header
    of a gateway refusal (gRPC and gRPC-Web callers read their rich error from it)."""
    info = _pb_field(1, reason.encode()) + _pb_field(2, ERROR_DOMAIN.encode())
    for key, value in sorted(metadata.items()):
        info += _pb_field(3, _pb_field(1, key.encode()) + _pb_field(2, value.encode()))
    detail = _pb_field(1, b"type.googleapis.com/google.rpc.ErrorInfo") + _pb_field(2, info)
    status = _pb_field(1, code) + _pb_field(2, message.encode()) + _pb_field(3, detail)
    return base64.b64encode(status).decode()


def _jwt_reply_mappers() -> list[dict]:
    """Local reply mappers for jwt_authn's refusals: the reason from Envoy's response code details (a CEL filter),
    the status the server would give, a JSON body (REST) or grpc-status-details-bin (gRPC), and RFC 6750's
    WWW-Authenticate."""

    def details_are(statuses: list[str]) -> dict:
        codes = [_RC_PREFIX + "_".join(s.split(" ")) + "}" for s in statuses]
        return _cel(f"response.code_details in {json.dumps(codes)}")

    def mappers(match: dict, reason: str, http: int, message: str) -> list[dict]:
        code, name = (14, "UNAVAILABLE") if http == 503 else (16, "UNAUTHENTICATED")
        headers = [] if http == 503 else [_set_header(
            "www-authenticate", f'Bearer error="invalid_token", error_description="{message}"')]
        rest = {"json_format": {"code": code, "message": message, "status": name, "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": ERROR_DOMAIN,
            "metadata": {"source": "gateway", "detail": "%RESPONSE_CODE_DETAILS%"}}]}}
        grpc_details = status_details_bin(code, message, reason, {"source": "gateway"})
        return [
            {"filter": {"and_filter": {"filters": [match, _is_rest()]}}, "status_code": http,
             "headers_to_add": headers, "body_format_override": rest},
            {"filter": match, "status_code": http,
             "headers_to_add": [*headers, _set_header("grpc-status-details-bin", grpc_details)],
             "body_format_override": {"text_format_source": {"inline_string": message}}},
        ]

    result: list[dict] = []
    for reason, http, message, statuses in JWT_FAILURES:
        result += mappers(details_are(list(statuses)), reason, http, message)
    result += mappers(_cel(f"response.code_details.startsWith({json.dumps(_RC_PREFIX + 'Jwks')})"),
                      *JWKS_UNAVAILABLE)
    result += mappers(_cel(f"response.code_details.startsWith({json.dumps(_RC_PREFIX)})"), *JWT_OTHER)
    return result


def _cel(expression: str) -> dict:
    return {"extension_filter": {"name": "envoy.access_loggers.extension_filters.cel", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
        "expression": expression}}}


def _set_header(name: str, value: str) -> dict:
    return {"header": {"key": name, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def _jwks_cluster_name(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return "jwks_" + "".join(c if c.isalnum() else "_" for c in f"{parts.scheme}_{parts.netloc}")


def _jwks_clusters(issuers: list[TokenIssuer], ca_file: str) -> list[dict]:
    clusters: dict[str, dict] = {}
    for issuer in issuers:
        if not issuer.jwks_url:
            continue
        parts = urllib.parse.urlsplit(issuer.jwks_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"jwks_url must be an http(s) URL: {issuer.jwks_url!r}")
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        cluster = {
            "name": _jwks_cluster_name(issuer.jwks_url),
            "type": "STATIC" if _is_ip(host) else "LOGICAL_DNS",
            "dns_lookup_family": "V4_PREFERRED",
            "connect_timeout": "2s",
            "load_assignment": {"cluster_name": _jwks_cluster_name(issuer.jwks_url), "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}]}]},
        }
        if parts.scheme == "https":
            cluster["transport_socket"] = _upstream_tls(host, ca_file)
        clusters[cluster["name"]] = cluster
    return list(clusters.values())


def _upstream_tls(server_name: str, ca_file: str, cert: str | None = None, key: str | None = None,
                  alpn: tuple[str, ...] = ()) -> dict:
    san_type = "IP_ADDRESS" if _is_ip(server_name) else "DNS"
    context: dict = {"validation_context": {"trusted_ca": {"filename": ca_file}, "match_typed_subject_alt_names": [
        {"san_type": san_type, "matcher": {"exact": server_name}}]}}
    if cert and key:
        context["tls_certificates"] = [{"certificate_chain": {"filename": cert}, "private_key": {"filename": key}}]
    if alpn:
        context["alpn_protocols"] = list(alpn)
    tls = {"common_tls_context": context}
    if not _is_ip(server_name):
        tls["sni"] = server_name
    return {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", **tls}}


def _jwt_authn_filter(issuers: list[TokenIssuer], clock_skew_s: int, jwks_cache_s: int) -> dict:
    providers: dict[str, dict] = {}
    requirements: list[dict] = []
    for n, issuer in enumerate(issuers):
        common = {"issuer": issuer.issuer, "audiences": list(issuer.audiences), "forward": True,
                  "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                  "clock_skew_seconds": clock_skew_s, "require_expiration": True}
        names = []
        # The file first: when both fail, jwt_authn reports the last one, and the URL's failure (keys
        # unavailable) says more than the file's.
        if issuer.jwks_file:
            providers[f"issuer_{n}_file"] = {**common, "local_jwks": {"filename": issuer.jwks_file}}
            names.append(f"issuer_{n}_file")
        if issuer.jwks_url:
            providers[f"issuer_{n}"] = {**common, "remote_jwks": {
                "http_uri": {"uri": issuer.jwks_url, "cluster": _jwks_cluster_name(issuer.jwks_url), "timeout": "5s"},
                "cache_duration": f"{int(jwks_cache_s)}s",
                # Fetched at start and when the cache expires, in the background; the listener does not wait.
                "async_fetch": {"fast_listener": True, "failed_refetch_duration": "1s"}}}
            names.append(f"issuer_{n}")
        requirements.append(_any_of([{"provider_name": name} for name in names]))
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": providers,
            "rules": [
                {"match": {"prefix": "/", "headers": [
                    {"name": "authorization", "string_match": {"safe_regex": {"regex": JWT_BEARER_REGEX}}}]},
                 "requires": _any_of(requirements)},
                {"match": {"prefix": "/"}},  # no bearer JWT: the server checks the API key
            ],
            "bypass_cors_preflight": True,
        },
    }


def _any_of(requirements: list[dict]) -> dict:
    return requirements[0] if len(requirements) == 1 else {"requires_any": {"requirements": requirements}}


def _downstream_tls(cert: str, key: str) -> dict:
    """HTTPS and gRPC over TLS on the listener: HTTP/2 by ALPN (gRPC, and browsers that can), HTTP/1.1 for REST."""
    return {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        "common_tls_context": {
            "tls_certificates": [{"certificate_chain": {"filename": cert}, "private_key": {"filename": key}}],
            "alpn_protocols": ["h2", "http/1.1"]}}}


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
    jwt_issuers: Sequence[TokenIssuer | dict] = (),
    jwt_clock_skew_s: int = 60,
    jwks_cache_s: int = 300,
    jwks_ca_file: str = SYSTEM_CA_FILE,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    backend_tls_ca: str | None = None,
    backend_tls_cert: str | None = None,
    backend_tls_key: str | None = None,
    backend_server_name: str | None = None,
    max_heap_mb: int = DEFAULT_MAX_HEAP_MB,
    health_check_timeout_s: float = 1.0,
) -> str:
    """Returns the Envoy config (YAML) for one gateway.

    listen_port: the one port for REST, gRPC-Web and gRPC (0 = any free port;
        read it back from the admin API). backend_address: the Storyloom gRPC
        server, host:port (an IP is used as is, a name is resolved by DNS).
    descriptor_path: the FileDescriptorSet (gateway/storyloom.pb) Envoy loads;
        it is read here too, and written into the config as given, so pass an
        absolute path unless Envoy runs from the same directory.
    admin_port: Envoy's admin API on admin_host, or None for no admin API.
    jwt_issuers: the identity providers whose bearer JWTs are verified here (TokenIssuer, or the server's JSON
        objects); their JWKS URLs become clusters (https ones verified with jwks_ca_file).
    tls_cert, tls_key: serve HTTPS and gRPC over TLS (PEM files); plaintext without them.
    backend_tls_ca: reach the server over TLS, verifying its certificate with this CA (for the name
        backend_server_name, default the backend's host); backend_tls_cert/key: our client certificate (mTLS).
    max_heap_mb: the heap the overload manager keeps Envoy under.
    health_check_timeout_s: how long a health check of the backend may take; two late answers in a row take the
        backend out (503) until one comes in time. The tests give more: their server shares a busy machine.
    """
    methods = read_methods(descriptor_path)
    services = sorted({m.service for m in methods})
    backend_host, backend_port = _split_address(backend_address)
    issuers = [i if isinstance(i, TokenIssuer) else TokenIssuer.from_json(i) for i in jwt_issuers]
    if bool(tls_cert) != bool(tls_key) or bool(backend_tls_cert) != bool(backend_tls_key):
        raise ValueError("a TLS certificate needs its key, and a key its certificate")
    if backend_tls_cert and not backend_tls_ca:
        raise ValueError("a client certificate for the backend (mTLS) needs backend_tls_ca to verify the server")
    backend_tls = _upstream_tls(backend_server_name or backend_host, backend_tls_ca, backend_tls_cert,
                                backend_tls_key, alpn=("h2",)) if backend_tls_ca else None
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
        "HEALTH_CHECK_TIMEOUT": f"{health_check_timeout_s:g}s",
        "ACCESS_LOG_BLOCK": _access_log() if access_log else "          # (no access log)",
        "LOCAL_REPLY_MAPPERS": json.dumps((_jwt_reply_mappers() if issuers else []) + _local_reply_mappers()),
        "DOWNSTREAM_TLS": ("transport_socket: " + json.dumps(_downstream_tls(tls_cert, tls_key))
                           if tls_cert and tls_key else "# plaintext (no certificate given)"),
        "JWT_AUTHN_FILTER": ("- " + json.dumps(_jwt_authn_filter(issuers, jwt_clock_skew_s, jwks_cache_s))
                             if issuers else "# (no token issuers: bearer JWTs are not verified here)"),
        "BACKEND_TLS": ("transport_socket: " + json.dumps(backend_tls) if backend_tls
                        else "# plaintext to the backend"),
        "JWKS_CLUSTERS": "\n".join("  - " + json.dumps(c) for c in _jwks_clusters(issuers, jwks_ca_file))
                         or "  # (no JWKS URLs)",
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
    parser.add_argument("--jwt-issuers-file", metavar="JSON",
                        help="identity providers whose bearer JWTs are verified (as STORYLOOM_JWT_ISSUERS_FILE)")
    parser.add_argument("--jwt-clock-skew", type=int, default=60, metavar="SECONDS")
    parser.add_argument("--jwks-cache", type=int, default=300, metavar="SECONDS", help="how long fetched keys are kept")
    parser.add_argument("--jwks-ca-file", default=SYSTEM_CA_FILE, help="CAs for https JWKS URLs")
    parser.add_argument("--tls-cert", help="serve HTTPS and gRPC over TLS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", help="... and this private key (PEM)")
    parser.add_argument("--backend-tls-ca", help="reach the server over TLS, verifying it with this CA (PEM)")
    parser.add_argument("--backend-tls-cert", help="client certificate for the server (mTLS)")
    parser.add_argument("--backend-tls-key", help="its private key")
    parser.add_argument("--backend-server-name", help="the name in the server's certificate (default: its host)")
    parser.add_argument("--max-heap-mb", type=int, default=DEFAULT_MAX_HEAP_MB,
                        help="Envoy's heap limit for the overload manager")
    parser.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    issuers = read_token_issuers(Path(args.jwt_issuers_file).read_text()) if args.jwt_issuers_file else []
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
        jwt_issuers=issuers,
        jwt_clock_skew_s=args.jwt_clock_skew,
        jwks_cache_s=args.jwks_cache,
        jwks_ca_file=args.jwks_ca_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        backend_tls_ca=args.backend_tls_ca,
        backend_tls_cert=args.backend_tls_cert,
        backend_tls_key=args.backend_tls_key,
        backend_server_name=args.backend_server_name,
        max_heap_mb=args.max_heap_mb,
    )
    if args.output == "-":
        sys.stdout.write(config)
    else:
        Path(args.output).write_text(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
