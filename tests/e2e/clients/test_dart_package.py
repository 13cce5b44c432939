"""The Dart package as far as a machine without the Dart SDK can check it: clients/dart/tool/generate.sh runs for
real (real buf, the real template and protos) with a stand-in protoc-gen-dart that names its files by
protoc_plugin 25's rules and a stand-in `dart` that records what it is asked to do. Then:

- every file of lib/src/generated/ that the hand-written Dart code imports or exports is one the template
  produces, and every other file it imports exists (or is a dependency in pubspec.yaml);
- every message or enum type the generated code refers to is generated too, or is one of the well-known types
  package:protobuf 6 ships (protoc_plugin 25 imports those from it): no generated import dangles.

What needs the Dart SDK (compiling, `dart analyze`, the unit tests in clients/dart/test) runs in `make dart`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf.compiler import plugin_pb2
from google.protobuf.descriptor_pb2 import DescriptorProto, FileDescriptorProto

from tests.e2e.clients.dart_plugin_standin import dart_outputs
from tests.support.paths import ROOT

PACKAGE = ROOT / "clients" / "dart"
GENERATED = PACKAGE / "lib" / "src" / "generated"
BUF = ROOT / ".venv" / "bin" / "buf"
STANDIN = Path(__file__).with_name("dart_plugin_standin.py")

# The libraries package:protobuf 6 ships under lib/well_known_types/google/protobuf/ (its build_wkts.sh drops
# the empty .pbenum.dart files), which protoc_plugin 25 imports instead of generating google/protobuf/*.proto.
WELL_KNOWN_TYPES = frozenset({"any", "api", "duration", "empty", "field_mask", "source_context", "struct",
                              "timestamp", "type", "wrappers"})
# package:grpc 5.1's public libraries (the rest of it is under src/, not for import).
GRPC_LIBRARIES = frozenset({"grpc.dart", "grpc_web.dart", "grpc_or_grpcweb.dart", "service_api.dart", "protos.dart",
                            "grpc_connection_interface.dart"})

# A `dart` that records each call (its directory and arguments) and acts out the few pub commands generate.sh
# runs: `pub global activate protoc_plugin V` installs the stand-in plugin as protoc-gen-dart in PUB_CACHE/bin.
FAKE_DART = """#!/usr/bin/env bash
set -eu
echo "$PWD|$*" >> "$FAKE_DART_LOG"
case "$*" in
  "pub global list") [ -x "$PUB_CACHE/bin/protoc-gen-dart" ] && echo "protoc_plugin 25.0.0" || true ;;
  "pub global activate protoc_plugin 25.0.0")
    mkdir -p "$PUB_CACHE/bin"
    printf '#!/bin/sh\\nexec %s %s "$@"\\n' "$STANDIN_PYTHON" "$STANDIN_SCRIPT" > "$PUB_CACHE/bin/protoc-gen-dart"
    chmod +x "$PUB_CACHE/bin/protoc-gen-dart" ;;
  "pub get") ;;
  *) echo "fake dart: unexpected: $*" >&2; exit 2 ;;
esac
"""


@dataclass
class Generation:
    checkout: Path  # a copy of the parts of the repository that generate.sh reads
    out: Path  # the copy's clients/dart/lib/src/generated
    requests: list[plugin_pb2.CodeGeneratorRequest]
    dart_calls: list[tuple[str, str]]  # (directory, arguments)
    result: subprocess.CompletedProcess[str]

    @property
    def written(self) -> set[str]:
        return {path.relative_to(self.out).as_posix() for path in self.out.rglob("*") if path.is_file()}

    @property
    def requested(self) -> list[str]:
        return [name for request in self.requests for name in request.file_to_generate]

    @property
    def protos(self) -> dict[str, FileDescriptorProto]:
        return {proto.name: proto for request in self.requests for proto in request.proto_file}


def copy_checkout(target: Path) -> Path:
    for name in ("proto", "third_party"):
        shutil.copytree(ROOT / name, target / name)
    shutil.copy(ROOT / "buf.yaml", target / "buf.yaml")
    shutil.copytree(PACKAGE, target / "clients" / "dart",
                    ignore=shutil.ignore_patterns("generated", ".dart_tool", "pubspec.lock"))
    return target


def run_generate(checkout: Path, tmp: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "BUF": str(BUF), "PUB_CACHE": str(tmp / "pub-cache"),
           "FAKE_DART_LOG": str(tmp / "dart.log"), "STANDIN_DART_REQUESTS": str(tmp / "requests"),
           "STANDIN_PYTHON": sys.executable, "STANDIN_SCRIPT": str(STANDIN)}
    return subprocess.run([str(checkout / "clients" / "dart" / "tool" / "generate.sh")], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def generation(tmp_path_factory: pytest.TempPathFactory) -> Generation:
    tmp = tmp_path_factory.mktemp("dart")
    checkout = copy_checkout(tmp / "checkout")
    (tmp / "requests").mkdir()
    fake_bin = tmp / "bin"
    fake_bin.mkdir()
    (fake_bin / "dart").write_text(FAKE_DART)
    (fake_bin / "dart").chmod(0o755)
    result = run_generate(checkout, tmp, f"{fake_bin}:{os.environ['PATH']}")
    assert result.returncode == 0, result.stdout + result.stderr
    requests = [plugin_pb2.CodeGeneratorRequest.FromString(path.read_bytes())
                for path in sorted((tmp / "requests").iterdir())]
    calls = [(where, arguments) for where, _, arguments in
             (line.partition("|") for line in (tmp / "dart.log").read_text().splitlines())]
    return Generation(checkout, checkout / "clients" / "dart" / "lib" / "src" / "generated", requests, calls, result)


def test_generate_sh_writes_protoc_gen_dart_files_for_every_contract(generation):
    contracts = sorted(p.relative_to(ROOT / "proto").as_posix() for p in (ROOT / "proto").rglob("*.proto"))
    assert contracts and set(contracts) <= set(generation.requested)
    protos = generation.protos
    expected = {name for proto in generation.requested for name in dart_outputs(protos[proto], grpc=True)}
    assert generation.written == expected
    assert "storyloom/v1/task.pbgrpc.dart" in expected and "storyloom/v1/requirements.pbgrpc.dart" not in expected


def test_generate_sh_activates_the_matching_protoc_plugin_then_gets_the_packages(generation):
    package = str(generation.checkout / "clients" / "dart")
    assert [arguments for _, arguments in generation.dart_calls] == [
        "pub global list", "pub global activate protoc_plugin 25.0.0", "pub get"]
    assert generation.dart_calls[-1][0] == package


def test_generate_sh_says_what_is_missing_without_dart(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    result = run_generate(checkout, tmp_path, "/usr/bin:/bin")
    assert result.returncode == 1 and "needs the Dart SDK" in result.stderr
    assert not (checkout / "clients" / "dart" / "lib" / "src" / "generated").exists()


# --- what the hand-written code imports ----------------------------------------------------------------------

DIRECTIVE = re.compile(r"^\s*(?:import|export)\b([^;]*);", re.MULTILINE)
URI = re.compile(r"'([^']+)'")


def hand_written() -> list[Path]:
    files = [path for folder in ("lib", "test", "example", "tool") for path in (PACKAGE / folder).rglob("*.dart")]
    return sorted(path for path in files if GENERATED not in path.parents)


def imports_of(path: Path) -> list[str]:
    return [uri for directive in DIRECTIVE.findall(path.read_text()) for uri in URI.findall(directive)]


def pubspec_dependencies(section: str) -> set[str]:
    text = (PACKAGE / "pubspec.yaml").read_text()
    block = re.search(rf"^{section}:\n((?:  .*\n|\s*\n)*)", text, re.MULTILINE)
    assert block, section
    return set(re.findall(r"^  (\w+):", block[1], re.MULTILINE))


def test_the_hand_written_code_imports_only_what_exists_or_is_generated(generation):
    generated = generation.written
    dependencies = pubspec_dependencies("dependencies")
    dev_dependencies = pubspec_dependencies("dev_dependencies")
    used_generated: set[str] = set()
    problems = []
    for path in hand_written():
        in_tests = (PACKAGE / "test") in path.parents
        for uri in imports_of(path):
            where = f"{path.relative_to(PACKAGE)}: {uri}"
            if uri.startswith("dart:"):
                continue
            if uri.startswith("package:storyloom/"):
                target = PACKAGE / "lib" / uri.removeprefix("package:storyloom/")
            elif uri.startswith("package:"):
                package, _, library = uri.removeprefix("package:").partition("/")
                allowed = dependencies | dev_dependencies if in_tests else dependencies
                if package not in allowed:
                    problems.append(f"{where}: {package} is not a dependency in pubspec.yaml")
                elif package == "protobuf" and library.startswith("well_known_types/"):
                    stem, _, suffix = library.removeprefix("well_known_types/google/protobuf/").partition(".")
                    if stem not in WELL_KNOWN_TYPES or suffix not in ("pb.dart", "pbjson.dart"):
                        problems.append(f"{where}: not a well-known type library of package:protobuf 6")
                elif package == "grpc" and library not in GRPC_LIBRARIES and not in_tests:
                    problems.append(f"{where}: not a public library of package:grpc")
                continue
            else:
                target = (path.parent / uri).resolve()
            if GENERATED in target.parents or target == GENERATED:
                name = target.relative_to(GENERATED).as_posix()
                used_generated.add(name)
                if name not in generated:
                    problems.append(f"{where}: the buf template does not produce {name}")
            elif not target.is_file():
                problems.append(f"{where}: no such file")
    assert problems == []
    # What storyloom.dart exports and the wrapper needs, so the check above did look at something.
    assert {"storyloom/v1/task.pbgrpc.dart", "storyloom/v1/conversation.pbgrpc.dart", "google/rpc/status.pb.dart",
            "google/api/httpbody.pb.dart"} <= used_generated


def referenced_types(message: DescriptorProto) -> set[str]:
    found = {field.type_name for field in message.field if field.type_name}
    for nested in message.nested_type:
        found |= referenced_types(nested)
    return found


def defined_types(package: str, messages: list[DescriptorProto], enums: list[str]) -> set[str]:
    names = {f".{package}.{enum}" for enum in enums}
    for message in messages:
        full = f"{package}.{message.name}"
        names.add(f".{full}")
        names |= defined_types(full, list(message.nested_type), [enum.name for enum in message.enum_type])
    return names


def test_every_type_the_generated_code_refers_to_is_generated_or_a_well_known_type(generation):
    protos = generation.protos
    defined_in = {name: proto.name for proto in protos.values()
                  for name in defined_types(proto.package, list(proto.message_type),
                                            [enum.name for enum in proto.enum_type])}
    generated = set(generation.requested)
    problems = []
    for name in generated:
        proto = protos[name]
        used = set().union(*(referenced_types(message) for message in proto.message_type))
        used |= {type_name for service in proto.service for method in service.method
                 for type_name in (method.input_type, method.output_type)}
        for type_name in sorted(used):
            source = defined_in[type_name]
            wkt = source.startswith("google/protobuf/") and source.removeprefix("google/protobuf/").removesuffix(
                ".proto") in WELL_KNOWN_TYPES
            if source not in generated and not wkt:
                problems.append(f"{name}: {type_name} is in {source}, which the template does not generate")
    assert problems == []
    assert "google/rpc/status.proto" in generated  # task and reply errors are a google.rpc.Status


def test_the_stand_in_names_files_as_protoc_gen_dart_does():
    service = FileDescriptorProto(name="a/b/c.proto")
    service.service.add(name="S")
    plain = FileDescriptorProto(name="a/d.proto")
    assert dart_outputs(service, grpc=True) == ["a/b/c.pb.dart", "a/b/c.pbenum.dart", "a/b/c.pbjson.dart",
                                                "a/b/c.pbgrpc.dart"]
    assert dart_outputs(plain, grpc=True) == ["a/d.pb.dart", "a/d.pbenum.dart", "a/d.pbjson.dart"]
    assert dart_outputs(plain, grpc=False)[-1] == "a/d.pbserver.dart"


def test_generate_sh_is_executable_as_the_readme_runs_it():
    assert os.access(PACKAGE / "tool" / "generate.sh", os.X_OK)
    assert "clients/dart/tool/generate.sh" in (PACKAGE / "README.md").read_text().split("\n## ")[0]
