#!/usr/bin/env bash
# Cancels a task; it stops within a second and keeps what it finished. Prints the task as JSON.
#   clients/grpcurl/cancel-task.sh tasks/ID
source "$(dirname "$0")/common.sh"
need "${1:-}" "the task name (tasks/ID)"
call storyloom.v1.TaskService/CancelTask -d "{\"name\": $(json_string "$1")}"
