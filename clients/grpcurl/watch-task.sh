#!/usr/bin/env bash
# Streams a task's events as JSON until it finishes; pass the last sequence you saw to resume after it.
#   clients/grpcurl/watch-task.sh tasks/ID [AFTER_SEQUENCE]
source "$(dirname "$0")/common.sh"
need "${1:-}" "the task name (tasks/ID)"
after="${2:-0}"
[[ "$after" =~ ^[0-9]+$ ]] || usage_error "AFTER_SEQUENCE must be a number, not '$after'"
call storyloom.v1.TaskService/WatchTask -d "{\"name\": $(json_string "$1"), \"after_sequence\": $after}"
