# Sourced by the scripts here. Settings (environment):
#   STORYLOOM_ADDR     gRPC address, default 127.0.0.1:50051 (what `make run` serves)
#   STORYLOOM_API_KEY  API key, default: the development key `make run` wrote to data/dev-api-key
#   GRPCURL            grpcurl binary, default: the one `make install` put in .venv
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
GRPCURL="${GRPCURL:-$ROOT/.venv/bin/grpcurl}"
ADDR="${STORYLOOM_ADDR:-127.0.0.1:50051}"
if [ -z "${STORYLOOM_API_KEY:-}" ] && [ -f "$ROOT/data/dev-api-key" ]; then
  STORYLOOM_API_KEY="$(cat "$ROOT/data/dev-api-key")"
fi

# call METHOD [grpcurl flags...]: a call with the API key, request JSON from -d.
call() {
  local method="$1"; shift
  "$GRPCURL" -plaintext -H "x-api-key: ${STORYLOOM_API_KEY:?set STORYLOOM_API_KEY or run make run first}" \
    "$@" "$ADDR" "$method"
}
