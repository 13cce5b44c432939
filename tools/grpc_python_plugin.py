"""protoc plugin adapter: run grpc_tools' built-in grpc_python generator.

See tools/protoc-gen-grpc_python for why this exists. Reads a
CodeGeneratorRequest on stdin, writes a CodeGeneratorResponse on stdout.
"""

from __future__ import annotations

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL,
    )
    # proto_file holds every file_to_generate plus all transitive imports,
    # in topological order: exactly what --descriptor_set_in needs.
    fds = descriptor_pb2.FileDescriptorSet(file=list(request.proto_file))
    with tempfile.TemporaryDirectory(prefix="grpc_python_plugin.") as tmp:
        fds_path = os.path.join(tmp, "input.binpb")
        out_dir = os.path.join(tmp, "out")
        os.mkdir(out_dir)
        with open(fds_path, "wb") as f:
            f.write(fds.SerializeToString(deterministic=True))
        out_arg = f"{request.parameter}:{out_dir}" if request.parameter else out_dir
        # protoc writes its diagnostics to stderr, which buf passes through.
        rc = protoc.main(
            ["protoc", f"--descriptor_set_in={fds_path}", f"--grpc_python_out={out_arg}",
             *request.file_to_generate]
        )
        if rc != 0:
            response.error = f"grpc_tools.protoc --grpc_python_out exited with status {rc}"
            return response
        for dirpath, _dirs, files in os.walk(out_dir):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    content = f.read()
                response.file.add(
                    name=os.path.relpath(path, out_dir).replace(os.sep, "/"),
                    content=content,
                )
    response.file.sort(key=lambda f: f.name)
    return response


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString(deterministic=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
