#!/usr/bin/env bash
# Follows a story's task until it ends, one line per event with the stage, percent and the server's estimate of
# the time left ("[ 33%] scenes        Writing scene 1 of 3.  (about 12 s left)"), then prints the story's name
# and exits 0 if it succeeded, 1 if it failed or was cancelled. A dropped connection is survived: the watch is
# started again after the last sequence seen, so no event is missed or shown twice.
#   clients/grpcurl/story-watch.sh tasks/ID            (the task story-create.sh printed)
#   clients/grpcurl/story-watch.sh users/me/stories/ID (its task is looked up)
source "$(dirname "$0")/common.sh"
name="${1:-}"
need "$name" "the task (tasks/ID) or story (users/me/stories/ID) to follow"
if [[ "$name" == users/*/stories/* ]]; then
  story="$(call storyloom.v1.StoryService/GetStory -d "{\"name\": $(json_string "$name")}")"
  name="$(json_field task <<< "$story")"
fi
state="$(mktemp)"; trap 'rm -f "$state"' EXIT
echo 0 > "$state"   # the last sequence seen; "end ..." once the terminal event arrived
for attempt in 1 2 3 4 5 6 7 8; do
  after="$(cat "$state")"
  # A lost connection (UNAVAILABLE, 78) is followed by another attempt, and so is a server that cannot be reached
  # for a moment (1) once the watch has started; neither prints an error line. Anything else is final.
  quiet=78; [ "$attempt" -eq 1 ] || quiet="1 78"
  # grpcurl prints each TaskEvent as JSON as soon as it arrives; the filter prints it as a line and records it.
  set +e
  QUIET_STATUSES="$quiet" call storyloom.v1.TaskService/WatchTask \
      -d "{\"name\": $(json_string "$name"), \"after_sequence\": $after}" |
    python3 -u -c 'import datetime, json, sys
state_file = sys.argv[1]

def seconds_left(event):
    """The estimate of the time left: estimatedRemaining ("12.500s"), else estimatedCompletionTime; or None."""
    remaining = event.get("estimatedRemaining", "")
    if remaining.endswith("s"):
        return float(remaining[:-1])
    if event.get("estimatedCompletionTime"):
        end = datetime.datetime.fromisoformat(event["estimatedCompletionTime"].replace("Z", "+00:00"))
        return (end - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    return None

def eta(seconds):
    if seconds is None:
        return ""
    if seconds < 1:
        return "  (almost done)"
    if seconds < 90:
        return "  (about %d s left)" % -(-seconds // 1)
    return "  (about %d min left)" % round(seconds / 60)

decoder, buffer = json.JSONDecoder(), ""
for line in sys.stdin:
    buffer += line
    try:
        event, _ = decoder.raw_decode(buffer.strip())
    except ValueError:
        continue  # not a whole event yet
    buffer = ""
    state = event.get("state", "").replace("TASK_STATE_", "").lower()
    ended = state in ("succeeded", "failed", "cancelled")
    print("[%3d%%] %-13s %s%s" % (event.get("percent", 0), event.get("stage") or state, event.get("message", ""),
                                 "" if ended else eta(seconds_left(event))))
    sys.stdout.flush()
    record = event["sequence"]
    if ended:
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
  if [ "$grpcurl_status" -ne 0 ] && [[ " $quiet " != *" $grpcurl_status "* ]]; then exit 1; fi
  echo "connection lost; re-attaching after event $(cat "$state")" >&2
  sleep "$attempt"
done
fail "gave up: the server at $ADDR could not be reached"
