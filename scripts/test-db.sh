#!/usr/bin/env bash
# test-db.sh [go test args...]
#
# Runs the PostgreSQL store's integration tests (by default
# ./adapters/postgres/...) with the race detector, on the servers
# ensure-services.sh picks (TEST_SERVICES: shared, private or auto).
# Run by sh (dash) by mistake: bash it is, before any bash syntax is read.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
	set -- ./adapters/postgres/...
fi
exec scripts/ensure-services.sh "${TEST_DB:-allocation_test}" -- go test -race -count=1 "$@"
