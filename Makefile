# The allocation service. `make run` starts it in memory; `make test` runs
# every test, starting PostgreSQL and Redis first when they are not running.

GO ?= go
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/allocation_test?sslmode=disable
export TEST_REDIS_ADDR ?= 127.0.0.1:6379

.PHONY: run build test unit services lint bench clean

run:
	$(GO) run ./cmd/allocation

build:
	$(GO) build -o bin/allocation ./cmd/allocation

services:
	./scripts/ensure-services.sh allocation_test

lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Every test: unit, handler, integration (PostgreSQL, Redis) and end-to-end.
test: services lint
	$(GO) test -race -count=1 -timeout 15m ./...

# Tests that need no external service.
unit:
	SKIP_INTEGRATION=1 $(GO) test -race -count=1 ./domain/... ./app/... ./config/...

bench: services build
	$(GO) test -run '^$$' -bench . -benchmem ./domain/... ./app/...

clean:
	rm -rf bin
