#!/usr/bin/env bash
# Starts writing a story from a few flags (or from a conversation) and prints its task as JSON at once; follow it
# with story-watch.sh, read it with story-get.sh.
#   clients/grpcurl/story-create.sh --character "Luna: a brave little fox" --setting "an enchanted forest" \
#       --tone heartwarming --scenes 3 [--title T] [--no-pictures] [--no-narration] [--regenerate]
#   clients/grpcurl/story-create.sh --conversation users/me/conversations/ID --scenes 2
# --character repeats (main character first); --tone is one of whimsical, funny, adventurous, calm, heartwarming,
# mysterious, suspenseful, educational, serious.
source "$(dirname "$0")/common.sh"
# The request as JSON (python3 quotes every value, whatever it holds); a fresh request_id makes a retry safe.
request="$(python3 - "$@" <<'PY'
import json, sys, uuid
args, req, story = sys.argv[1:], {}, {"parent": "users/me", "request_id": str(uuid.uuid4())}
def usage_error(message):
    print(f"story-create.sh: {message} (see story-create.sh --help)", file=sys.stderr)
    sys.exit(2)
def value(i):
    if i + 1 >= len(args):
        usage_error(f"{args[i]} needs a value")
    return args[i + 1]
i = 0
while i < len(args):
    flag = args[i]
    if flag in ("--character", "-c"):
        name, _, description = value(i).partition(":")
        req.setdefault("characters", []).append({"name": name.strip(), "description": description.strip()})
    elif flag in ("--setting", "--title", "--genre"):
        req[flag[2:]] = value(i)
    elif flag == "--tone":
        req["tone"] = "STORY_TONE_" + value(i).upper().replace("-", "_")
    elif flag == "--scenes":
        if not value(i).isdigit():
            usage_error(f"--scenes needs a number, not {value(i)!r}")
        story["scene_count"] = int(value(i))
    elif flag == "--conversation":
        story["conversation"] = value(i)
    elif flag in ("--no-pictures", "--no-narration", "--regenerate"):
        story[{"--no-pictures": "skip_illustrations", "--no-narration": "skip_narration",
               "--regenerate": "regenerate"}[flag]] = True
        i -= 1
    else:
        usage_error(f"unknown flag {flag}")
    i += 2
if "conversation" not in story:
    story["requirements"] = req
print(json.dumps(story))
PY
)"
call storyloom.v1.StoryService/CreateStory -d "$request"
