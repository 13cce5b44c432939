#!/usr/bin/env bash
# Cancels a task; it stops within a second and keeps what it finished.
#   clients/grpcurl/cancel-task.sh tasks/ID
source "$(dirname "$0")/common.sh"
call storyloom.v1.TaskService/CancelTask -d "{\"name\": \"${1:?task name}\"}"
