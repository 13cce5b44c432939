#!/usr/bin/env bash
# Downloads a media item to a file and checks its sha256 against GetMediaInfo.
#   clients/grpcurl/download-media.sh media/ID OUTPUT_FILE
source "$(dirname "$0")/common.sh"
name="${1:-}"; out="${2:-}"
need "$name" "the media name (media/ID)"
need "$out" "the output file"
request="{\"name\": $(json_string "$name")}"
info="$(call storyloom.v1.MediaService/GetMediaInfo -d "$request")"
want="$(json_field sha256 <<< "$info")"
# GetMedia streams HttpBody chunks; grpcurl prints each as JSON with base64 `data`. A failed download leaves no file.
trap '[ "${done:-}" = 1 ] || rm -f "$out"' EXIT
call storyloom.v1.MediaService/GetMedia -d "$request" |
  python3 -c 'import base64, json, sys
dec = json.JSONDecoder(); text = sys.stdin.read(); i = 0; out = open(sys.argv[1], "wb")
while i < len(text):
    if text[i].isspace(): i += 1; continue
    chunk, i = dec.raw_decode(text, i); out.write(base64.b64decode(chunk.get("data", "")))' "$out"
got="$(sha256sum "$out" | cut -d' ' -f1)"
[ "$want" = "$got" ] || fail "sha256 mismatch: expected $want, got $got"
done=1
echo "$out: $(stat -c %s "$out") bytes, sha256 $got verified"
