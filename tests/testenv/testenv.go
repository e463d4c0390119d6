// Package testenv is the setup that tests of every package share: a fresh
// PostgreSQL schema per test, a Redis or NATS topic namespace per test,
// server processes of the test's own (redis-server, nats-server), a TCP
// proxy to stop, refuse or freeze, the service binary started with an
// environment, Watermill subscriptions, and waits on conditions.
// Unreachable services fail the test, unless SKIP_INTEGRATION=1 (for a
// quick run without them). It imports nothing of the module, so that any
// package's tests can use it.
package testenv

import (
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// SkipIntegration tells whether the run was asked to skip external services.
func SkipIntegration() bool { return os.Getenv("SKIP_INTEGRATION") == "1" }

// requireIntegration skips the test when the run skips external services.
func requireIntegration(t testing.TB) {
	t.Helper()
	if SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
}

// answering returns address once answers says the server there answers,
// and fails the test naming what otherwise.
func answering(t testing.TB, what, address string, answers func(address string) error) string {
	t.Helper()
	requireIntegration(t)
	if err := answers(address); err != nil {
		unreachable(t, what+" at "+address, err)
	}
	return address
}

func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	t.Fatalf("%s unreachable (run scripts/ensure-services.sh allocation_test, or set SKIP_INTEGRATION=1): %v", what, err)
}

// TopicPrefix is a namespace for one test's topics on a shared broker.
func TopicPrefix() string { return "t" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] + "." }

// BaseDatabaseURL is the test database (TEST_DATABASE_URL).
func BaseDatabaseURL() string {
	return envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/allocation_test?sslmode=disable")
}

// BaseRedisAddr is the test Redis (TEST_REDIS_ADDR).
func BaseRedisAddr() string { return envOr("TEST_REDIS_ADDR", "127.0.0.1:6379") }

// BaseNATSURL is the test NATS server (TEST_NATS_URL).
func BaseNATSURL() string { return envOr("TEST_NATS_URL", "nats://127.0.0.1:4222") }

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
