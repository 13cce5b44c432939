"""The committed generated artifacts agree with proto/ and load at runtime.

Byte-for-byte freshness is `make check-generated`; these tests check what that
cannot: the stubs import against the runtime packages (protobuf,
googleapis-common-protos, grpcio) and the Envoy descriptor set holds what the
gateway needs.
"""

from __future__ import annotations

import importlib

import pytest
from google.protobuf import descriptor_pb2

from tests.support.paths import ROOT

PROTO_ROOT = ROOT / "proto"
DESCRIPTOR_SET = ROOT / "gateway" / "storyloom.pb"

PROTOS = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))

# Envoy's grpc_json_transcoder resolves these by name from the descriptor set.
GATEWAY_REQUIRED = [
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/api/httpbody.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
]


def _module_name(proto: str, suffix: str) -> str:
    return proto.removesuffix(".proto").replace("/", ".") + suffix


@pytest.fixture(scope="module")
def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())


def test_there_are_protos() -> None:
    assert PROTOS, "no .proto files under proto/"


@pytest.mark.parametrize("proto", PROTOS)
def test_generated_modules_import(proto: str) -> None:
    pb2 = importlib.import_module(_module_name(proto, "_pb2"))
    assert pb2.DESCRIPTOR.name == proto
    grpc_mod = importlib.import_module(_module_name(proto, "_pb2_grpc"))
    for service in pb2.DESCRIPTOR.services_by_name:
        assert hasattr(grpc_mod, f"{service}Stub"), service
        assert hasattr(grpc_mod, f"add_{service}Servicer_to_server"), service


def test_descriptor_set_has_our_protos_and_gateway_deps(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> None:
    names = [f.name for f in descriptor_set.file]
    assert len(names) == len(set(names))
    missing = sorted(set(PROTOS + GATEWAY_REQUIRED) - set(names))
    assert not missing


def test_descriptor_set_is_self_contained_and_ordered(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> None:
    # Every import precedes its importer, as Envoy and protoc expect.
    seen: set[str] = set()
    for f in descriptor_set.file:
        assert set(f.dependency) <= seen, (f.name, sorted(set(f.dependency) - seen))
        seen.add(f.name)
