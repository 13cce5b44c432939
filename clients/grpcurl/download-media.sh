#!/usr/bin/env bash
# Downloads a media item to a file and checks its sha256 against GetMediaInfo.
#   clients/grpcurl/download-media.sh media/ID OUTPUT_FILE
source "$(dirname "$0")/common.sh"
name="${1:?media name}"; out="${2:?output file}"
# GetMedia streams HttpBody chunks; grpcurl prints each as JSON with base64 `data`.
call storyloom.v1.MediaService/GetMedia -d "{\"name\": \"$name\"}" |
  python3 -c 'import base64, json, sys
dec = json.JSONDecoder(); text = sys.stdin.read(); i = 0; out = open(sys.argv[1], "wb")
while i < len(text):
    if text[i].isspace(): i += 1; continue
    chunk, i = dec.raw_decode(text, i); out.write(base64.b64decode(chunk.get("data", "")))' "$out"
want="$(call storyloom.v1.MediaService/GetMediaInfo -d "{\"name\": \"$name\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["sha256"])')"
got="$(sha256sum "$out" | cut -d' ' -f1)"
[ "$want" = "$got" ] || { echo "sha256 mismatch: expected $want, got $got" >&2; exit 1; }
echo "$out: $(stat -c %s "$out") bytes, sha256 $got verified"
