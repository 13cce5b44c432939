#!/usr/bin/env bash
# Uploads a picture or recording (at most 16 MiB) and prints its Media as JSON (name, size, sha256...).
#   clients/grpcurl/upload-media.sh FILE CONTENT_TYPE     e.g. picture.png image/png
source "$(dirname "$0")/common.sh"
file="${1:-}"; type="${2:-}"
need "$file" "the file to upload"
need "$type" "the content type (image/png, image/jpeg, audio/wav...)"
[ -f "$file" ] && [ -r "$file" ] || fail "cannot read $file"
printf '{"content": {"content_type": %s, "data": "%s"}}' "$(json_string "$type")" "$(base64 -w0 "$file")" |
  call storyloom.v1.MediaService/CreateMedia -d @
