# Sourced by the scripts here (see README.md). Settings (environment):
#   STORYLOOM_ADDR     the server's gRPC address, default 127.0.0.1:50051 (`make run` prints the one it got)
#   STORYLOOM_API_KEY  API key, default: the development key `make run` wrote to data/dev-api-key
#   GRPCURL            grpcurl binary, default: the one `make install` put in .venv
# It answers -h/--help with the script's own header comment, drops a leading `--` (so `chat.sh -- --help` sends
# "--help"), and turns every failure into one line on stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRIPT="$(basename "$0")"
GRPCURL="${GRPCURL:-$ROOT/.venv/bin/grpcurl}"
ADDR="${STORYLOOM_ADDR:-127.0.0.1:50051}"
if [ -z "${STORYLOOM_API_KEY:-}" ] && [ -f "$ROOT/data/dev-api-key" ]; then
  STORYLOOM_API_KEY="$(cat "$ROOT/data/dev-api-key")"
fi

# The script's header comment (the lines after the shebang), then the settings every script shares.
usage() {
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"
  cat <<EOF

Environment:
  STORYLOOM_ADDR     the server's gRPC address (now $ADDR; \`make run\` prints the one it serves)
  STORYLOOM_API_KEY  the API key (default: the development key in data/dev-api-key)
  GRPCURL            the grpcurl binary (default: .venv/bin/grpcurl, installed by \`make install\`)
EOF
}

for argument in "$@"; do
  case "$argument" in
    --) break ;;
    -h|--help) usage; exit 0 ;;
  esac
done
if [ "${1:-}" = "--" ]; then shift; fi
unset argument

# fail MESSAGE: one line on stderr, exit 1.
fail() {
  echo "$SCRIPT: $*" >&2
  exit 1
}

# usage_error MESSAGE: a wrong command line; exit 2.
usage_error() {
  echo "$SCRIPT: $* (see $SCRIPT --help)" >&2
  exit 2
}

# need VALUE WHAT: a required argument.
need() {
  [ -n "$1" ] || usage_error "missing $2"
}

# grpc [grpcurl flags...] METHOD: grpcurl against $ADDR. Responses go to stdout as they arrive; a failure becomes
# one readable line on stderr and grpcurl's exit status (64 + the gRPC code for an error status, 1 when the
# server cannot be reached) is returned. Exit statuses listed in $QUIET_STATUSES print nothing: the caller
# handles them.
grpc() {
  local method="${*: -1}" errors status=0
  errors="$(mktemp)"
  "$GRPCURL" -plaintext -format-error "${@:1:$#-1}" "$ADDR" "$method" 2>"$errors" || status=$?
  if [ "$status" -ne 0 ] && [[ " ${QUIET_STATUSES:-} " != *" $status "* ]]; then
    python3 "$ROOT/clients/grpcurl/describe_error.py" "$SCRIPT" "$ADDR" < "$errors" >&2 || true
  fi
  rm -f "$errors"
  return "$status"
}

# call METHOD [grpcurl flags...]: a call with the API key; the request JSON comes from -d.
call() {
  local method="$1"; shift
  [ -n "${STORYLOOM_API_KEY:-}" ] ||
    fail "no API key: set STORYLOOM_API_KEY, or run \`make run\` once (it writes data/dev-api-key)"
  grpc -H "x-api-key: $STORYLOOM_API_KEY" "$@" "$method"
}

# json_field KEY: the KEY of the JSON object on stdin.
json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# json_string VALUE: VALUE as a JSON string; python3 quotes it, whatever it holds.
json_string() {
  python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}
