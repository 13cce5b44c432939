#!/usr/bin/env bash
# Sends a message to the story assistant and prints its reply as it is written. Without a conversation it starts a
# new one; its name goes to stderr, so pass it next time to go on with the same chat.
#   clients/grpcurl/chat.sh "A story about a brave fox named Luna" [users/me/conversations/ID]
#   clients/grpcurl/chat.sh -- "--help"        (a message that starts with "-")
source "$(dirname "$0")/common.sh"
text="${1:-}"; conversation="${2:-}"
need "$text" "the message text"
if [ -z "$conversation" ]; then
  created="$(call storyloom.v1.ConversationService/CreateConversation -d '{"parent": "users/me"}')"
  conversation="$(json_field name <<< "$created")"
fi
echo "conversation: $conversation" >&2
# grpcurl prints each ReplyEvent as JSON as soon as it arrives; print the deltas' text the same way. An in-band
# error event (the reply failed after it started) goes to stderr and fails the script.
call storyloom.v1.ConversationService/SendMessage \
    -d "{\"conversation\": $(json_string "$conversation"), \"text\": $(json_string "$text")}" |
  python3 -u -c 'import json, sys
decoder, buffer = json.JSONDecoder(), ""
for line in sys.stdin:
    buffer += line
    try:
        event, _ = decoder.raw_decode(buffer.strip())
    except ValueError:
        continue  # not a whole event yet
    buffer = ""
    if "accepted" in event:
        print("reply: " + event["reply"], file=sys.stderr)
    elif "delta" in event:
        sys.stdout.write(event["delta"]["text"]); sys.stdout.flush()
    elif "finished" in event:
        message = event["finished"]["message"]
        print()
        print("finished: %s %s" % (message.get("state", ""), message.get("finishReason", "")), file=sys.stderr)
    elif "error" in event:
        error = event["error"]
        reasons = [d.get("reason", "") for d in error.get("details", ()) if "reason" in d]
        print()
        print("error: code %s %s: %s" % (error.get("code", 0), " ".join(reasons), error.get("message", "")),
              file=sys.stderr)
        sys.exit(1)'
