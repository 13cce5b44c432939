#!/usr/bin/env bash
# Generates lib/src/generated (the Dart messages and gRPC client stubs) from the protos of the Storyloom checkout
# this package sits in, then runs `dart pub get`. Run it once after cloning, and again after pulling changed
# protos; a Flutter app that depends on this package by `path:` needs nothing else.
#
# Needs `dart` (the Dart or Flutter SDK) and `buf` (https://buf.build, or `pip install buf-bin`) on PATH; the
# checkout's own .venv/bin/buf (`make install`) is used when buf is not on PATH, and BUF=/path/to/buf overrides
# both. protoc-gen-dart comes from protoc_plugin 25.0.0, the version that matches this package's grpc and
# protobuf; it is activated for this user with `dart pub global activate` when another version (or none) is.
# Offline once pub has protoc_plugin and the package's dependencies cached: buf reads only the checkout.
set -euo pipefail

PROTOC_PLUGIN_VERSION=25.0.0

package="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # clients/dart
root="$(cd "$package/../.." && pwd)"                           # the Storyloom checkout

if ! command -v dart >/dev/null 2>&1; then
  echo "generate.sh: needs the Dart SDK: \`dart\` is not on PATH (Flutter ships it in flutter/bin)" >&2
  exit 1
fi
buf="${BUF:-}"
if [ -z "$buf" ]; then
  buf="$(command -v buf || true)"
  [ -n "$buf" ] || [ ! -x "$root/.venv/bin/buf" ] || buf="$root/.venv/bin/buf"
fi
if [ -z "$buf" ]; then
  echo "generate.sh: needs buf: not on PATH, and no $root/.venv/bin/buf (pip install buf-bin, or make install)" >&2
  exit 1
fi

pub_bin="${PUB_CACHE:-$HOME/.pub-cache}/bin"
if ! dart pub global list 2>/dev/null | grep -qx "protoc_plugin $PROTOC_PLUGIN_VERSION"; then
  dart pub global activate protoc_plugin "$PROTOC_PLUGIN_VERSION"
fi
export PATH="$pub_bin:$PATH"   # this protoc-gen-dart before any other on PATH

rm -rf "$package/lib/src/generated"
(cd "$root" && "$buf" generate --template clients/dart/buf.gen.yaml)
(cd "$package" && dart pub get)
echo "generate.sh: wrote $package/lib/src/generated"
