#!/usr/bin/env bash
# Lists your tasks as JSON, newest first; pass the next_page_token it printed to see the next page.
#   clients/grpcurl/list-tasks.sh [PAGE_SIZE] [PAGE_TOKEN]
source "$(dirname "$0")/common.sh"
page_size="${1:-20}"
[[ "$page_size" =~ ^[0-9]+$ ]] || usage_error "PAGE_SIZE must be a number, not '$page_size'"
call storyloom.v1.TaskService/ListTasks -d "{\"page_size\": $page_size, \"page_token\": $(json_string "${2:-}")}"
