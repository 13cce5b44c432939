#!/usr/bin/env bash
# Prints a story with its scenes and each scene's media as JSON.
#   clients/grpcurl/story-get.sh users/me/stories/ID   (or just ID)
source "$(dirname "$0")/common.sh"
name="${1:-}"
need "$name" "the story name (users/me/stories/ID, or ID)"
[[ "$name" == */* ]] || name="users/me/stories/$name"
call storyloom.v1.StoryService/GetStory -d "{\"name\": $(json_string "$name")}"
