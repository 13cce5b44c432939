#!/usr/bin/env bash
# Lists your tasks, newest first.
#   clients/grpcurl/list-tasks.sh [PAGE_SIZE] [PAGE_TOKEN]
source "$(dirname "$0")/common.sh"
call storyloom.v1.TaskService/ListTasks -d "{\"page_size\": ${1:-20}, \"page_token\": \"${2:-}\"}"
