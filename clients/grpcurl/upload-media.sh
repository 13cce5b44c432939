#!/usr/bin/env bash
# Uploads a picture or recording and prints its Media (name, size, sha256...).
#   clients/grpcurl/upload-media.sh FILE CONTENT_TYPE     e.g. picture.png image/png
source "$(dirname "$0")/common.sh"
file="${1:?file}"; type="${2:?content type}"
printf '{"content": {"content_type": "%s", "data": "%s"}}' "$type" "$(base64 -w0 "$file")" |
  call storyloom.v1.MediaService/CreateMedia -d @
