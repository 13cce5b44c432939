#!/usr/bin/env bash
# Lists the services through server reflection (no key needed), then checks health.
#   clients/grpcurl/list-services.sh
source "$(dirname "$0")/common.sh"
grpc list
grpc grpc.health.v1.Health/Check
