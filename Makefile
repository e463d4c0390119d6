# The allocation service. `make run` starts it in memory; `make test` runs
# every test, on the machine's PostgreSQL, Redis and NATS when they are usable as
# they are, else on private ones started for the run and removed after it
# (TEST_SERVICES=shared|private|auto, see scripts/ensure-services.sh).

GO ?= go
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/allocation_test?sslmode=disable
export TEST_REDIS_ADDR ?= 127.0.0.1:6379
export TEST_NATS_URL ?= nats://127.0.0.1:4222
export TEST_SERVICES ?= auto
# Runs the command after it with TEST_DATABASE_URL, TEST_REDIS_ADDR and
# TEST_NATS_URL pointing at the servers it chose, and stops the private ones afterwards.
WITH_SERVICES = ./scripts/ensure-services.sh allocation_test --

.PHONY: run build test unit services lint fuzz bench clean

run:
	$(GO) run ./cmd/allocation

build:
	$(GO) build -o bin/allocation ./cmd/allocation

# Checks the shared servers and creates the test database, for go test by hand.
services:
	./scripts/ensure-services.sh allocation_test

# gofmt, go vet and staticcheck (pinned by the tool directive in go.mod;
# every check on, no exclusions), on the service and on the bench module
# (bench/, which staticcheck reaches by the path of the pinned build).
lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd bench && $(GO) vet ./...
	cd bench && "$$($(GO) -C .. tool -n staticcheck)" ./...

# Every test: unit, handler, integration (PostgreSQL, Redis) and end-to-end;
# every benchmark runs once too, so that make bench cannot break unseen;
# then the bench module's own tests (./... above stops at its go.mod).
test: lint
	$(WITH_SERVICES) $(GO) test -race -count=1 -timeout 15m -bench . -benchtime 1x ./...
	cd bench && $(GO) test -race -count=1 ./...

# Tests that need no external service.
unit:
	SKIP_INTEGRATION=1 $(GO) test -race -count=1 ./domain/... ./app/... ./config/...

# Fuzzing (go test -fuzz): each target for FUZZTIME (30s by default), one
# after the other. make test runs their seed corpora (testdata/fuzz) as
# plain tests; an input that fails is written there and fails make test
# until fixed. Targets: the HTTP request decoders (/add_batch, /allocate),
# the inbound change_batch_quantity decoder and schema, the Redis entry
# decoding, the domain's allocation on random products.
FUZZTIME ?= 30s
FUZZ_TARGETS = ./ports/httpapi:FuzzAddBatchRequest ./ports/httpapi:FuzzAllocateRequest \
	./ports/broker:FuzzChangeBatchQuantityDecoder ./adapters/pubsub:FuzzDecodeRedisEntry \
	./domain:FuzzProductAllocate
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		SKIP_INTEGRATION=1 $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

# Benchmarks, about 6 minutes on 2 cores (see BENCHMARKS.md): the Go
# micro-benchmarks (domain allocate, in-memory bus round trip), then
# bin/allocation-bench (the bench/ module) drives the real binary for each
# STORE/BROKER configuration (mixed load, event round trip, database
# ceiling) and, on postgres/redis, postgres/sql and postgres/nats, issue 12's flash sale
# and long history (about a minute of the total), and rewrites the results
# section of BENCHMARKS.md and its JSON, bench/results/results.json. The
# services it starts get GOGC=400 and GOMAXPROCS=max(4, cores) unless the
# environment sets them (README, Running in production).
# BENCH_FLAGS passes flags on (allocation-bench -h), e.g.
# BENCH_FLAGS='-configs postgres/redis -rounds 3', or
# BENCH_FLAGS='-scenarios flash,history' for those alone (no files unless asked).
BENCH_FLAGS ?=
bench: build
	cd bench && $(GO) build -o ../bin/allocation-bench .
	$(GO) test -run '^$$' -bench . -benchtime 20000x -benchmem ./domain/ ./adapters/messagebus/
	$(WITH_SERVICES) ./bin/allocation-bench -binary bin/allocation $(BENCH_FLAGS)

clean:
	rm -rf bin
