// Package testenv gives integration and end-to-end tests isolated access to
// the real PostgreSQL and Redis: a fresh schema per test, a unique topic
// namespace per service. Unreachable services fail the test, unless
// SKIP_INTEGRATION=1 (for a quick run without them).
package testenv

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/lib/pq" // the PostgreSQL driver behind database/sql
	"github.com/redis/go-redis/v9"

	"allocation/adapters/postgres"
)

const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/allocation_test?sslmode=disable"
	defaultRedisAddr   = "127.0.0.1:6379"
)

// SkipIntegration tells whether the run was asked to skip external services.
func SkipIntegration() bool { return os.Getenv("SKIP_INTEGRATION") == "1" }

func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if SkipIntegration() {
		t.Skipf("SKIP_INTEGRATION=1 and %s unreachable: %v", what, err)
	}
	t.Fatalf("%s unreachable (run scripts/ensure-services.sh allocation_test, or set SKIP_INTEGRATION=1): %v", what, err)
}

// BaseDatabaseURL is the test database (TEST_DATABASE_URL).
func BaseDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultDatabaseURL
}

// DatabaseURL returns a URL whose connections use a schema of their own,
// created now and dropped when the test ends, so that parallel tests and
// services never see each other's rows, topics or offsets.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	if SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("postgres", BaseDatabaseURL())
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		unreachable(t, "PostgreSQL at "+BaseDatabaseURL(), err)
	}
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, dropErr := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		if err := errors.Join(dropErr, db.Close()); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	return postgres.WithSearchPath(BaseDatabaseURL(), schema)
}

// RedisAddr is the test Redis (TEST_REDIS_ADDR), checked to answer.
func RedisAddr(t testing.TB) string {
	t.Helper()
	if SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		addr = defaultRedisAddr
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		unreachable(t, "Redis at "+addr, err)
	}
	return addr
}

// TopicPrefix is a namespace for one test's topics on a shared broker.
func TopicPrefix() string { return "t" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] + "." }
