#!/usr/bin/env bash
# Streams a task's events until it finishes; pass the last sequence you saw to resume.
#   clients/grpcurl/watch-task.sh tasks/ID [AFTER_SEQUENCE]
source "$(dirname "$0")/common.sh"
call storyloom.v1.TaskService/WatchTask -d "{\"name\": \"${1:?task name}\", \"after_sequence\": ${2:-0}}"
