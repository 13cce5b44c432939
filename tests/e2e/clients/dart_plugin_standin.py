"""A stand-in for protoc-gen-dart (protoc_plugin 25) where the Dart SDK is not: it reads buf's
CodeGeneratorRequest and writes the files protoc-gen-dart would write for it, named by its rules, each holding
only a comment. With STANDIN_DART_REQUESTS set to a directory, it also saves each request there, so a test can
read what buf asked for (buf calls a local plugin once per directory of protos).

protoc_plugin 25's FileGenerator.generateFiles writes, for every file to generate, `<name>.pb.dart`,
`<name>.pbenum.dart` and `<name>.pbjson.dart`; with the `grpc` option, `<name>.pbgrpc.dart` when the file declares
services (`<name>.pbserver.dart` for every file without that option). `<name>` is the proto's path without
`.proto`, relative to its module root, under the plugin's `out` directory.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from google.protobuf.compiler import plugin_pb2
from google.protobuf.descriptor_pb2 import FileDescriptorProto


def dart_outputs(proto: FileDescriptorProto, grpc: bool) -> list[str]:
    base = proto.name.removesuffix(".proto")
    names = [base + suffix for suffix in (".pb.dart", ".pbenum.dart", ".pbjson.dart")]
    if not grpc:
        names.append(base + ".pbserver.dart")
    elif proto.service:
        names.append(base + ".pbgrpc.dart")
    return names


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    if record := os.environ.get("STANDIN_DART_REQUESTS"):
        (Path(record) / f"{uuid.uuid4().hex}.binpb").write_bytes(request.SerializeToString())
    grpc = "grpc" in request.parameter.split(",")
    protos = {proto.name: proto for proto in request.proto_file}
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL)
    for name in request.file_to_generate:
        for output in dart_outputs(protos[name], grpc):
            response.file.add(name=output, content=f"// stand-in for protoc-gen-dart, from {name}\n")
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
