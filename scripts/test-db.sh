#!/usr/bin/env bash
# test-db.sh [go test args...]
#
# Runs the PostgreSQL store's integration tests against a local database:
# makes sure the services and the test database exist, then runs go test
# with the race detector (by default on ./adapters/postgres/...).
set -euo pipefail

cd "$(dirname "$0")/.."
TEST_DB=${TEST_DB:-allocation_test}
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$TEST_DB?sslmode=disable}

scripts/ensure-services.sh "$TEST_DB"
if [ "$#" -eq 0 ]; then
	set -- ./adapters/postgres/...
fi
exec go test -race -count=1 "$@"
