#!/usr/bin/env bash
# Follows a story's task until it ends, one line per event ("[ 33%] scenes  Writing scene 1 of 3."), then prints
# the story's name and exits 0 if it succeeded, 1 if it failed or was cancelled. A dropped connection is survived:
# the watch is started again after the last sequence seen, so no event is missed or shown twice.
#   clients/grpcurl/story-watch.sh tasks/ID            (the task story-create.sh printed)
#   clients/grpcurl/story-watch.sh users/me/stories/ID (its task is looked up)
source "$(dirname "$0")/common.sh"
name="${1:?task or story name}"
if [[ "$name" == users/*/stories/* ]]; then
  name="$(call storyloom.v1.StoryService/GetStory -d "{\"name\": \"$name\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["task"])')"
fi
state="$(mktemp)"; errors="$(mktemp)"; trap 'rm -f "$state" "$errors"' EXIT
echo 0 > "$state"   # the last sequence seen; "end ..." once the terminal event arrived
for attempt in 1 2 3 4 5 6 7 8; do
  after="$(cat "$state")"
  # grpcurl prints each TaskEvent as JSON as soon as it arrives; the filter prints it as a line and records it.
  set +e
  call storyloom.v1.TaskService/WatchTask -d "{\"name\": \"$name\", \"after_sequence\": $after}" 2>"$errors" |
    python3 -u -c 'import json, sys
state_file = sys.argv[1]
decoder, buffer = json.JSONDecoder(), ""
for line in sys.stdin:
    buffer += line
    try:
        event, _ = decoder.raw_decode(buffer.strip())
    except ValueError:
        continue  # not a whole event yet
    buffer = ""
    state = event.get("state", "").replace("TASK_STATE_", "").lower()
    print("[%3d%%] %-13s %s" % (event.get("percent", 0), event.get("stage") or state, event.get("message", "")))
    sys.stdout.flush()
    record = event["sequence"]
    if state in ("succeeded", "failed", "cancelled"):
        result = event.get("result", {}).get("name", "")
        error = event.get("error", {})
        record = "end %s %s %s" % (state, result or "-", error.get("message", ""))
    with open(state_file, "w") as out:
        out.write(str(record) + "\n")' "$state"
  grpcurl_status="${PIPESTATUS[0]}"
  set -e
  case "$(cat "$state")" in
    "end succeeded "*) read -r _ _ story _ < "$state"; echo "succeeded: $story"; exit 0 ;;
    end*) read -r _ ended _ message < "$state"; echo "$ended: $message" >&2; exit 1 ;;
  esac
  # grpcurl exits 64 + the gRPC code: only UNAVAILABLE (78) is worth another try; anything else is final.
  if [ "$grpcurl_status" -ne 0 ] && [ "$grpcurl_status" -ne 78 ]; then cat "$errors" >&2; exit 1; fi
  echo "connection lost; re-attaching after event $(cat "$state")" >&2
  sleep "$attempt"
done
echo "gave up: the server could not be reached" >&2
exit 3
