package pubsub

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"
)

// Integration tests run against real Redis and PostgreSQL and fail when
// those are unreachable, unless SKIP_INTEGRATION=1.

const waitTimeout = 15 * time.Second

func requireIntegration(t *testing.T) {
	t.Helper()
	if os.Getenv("SKIP_INTEGRATION") == "1" {
		t.Skip("SKIP_INTEGRATION=1")
	}
}

func testRedisAddr() string {
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:6379"
}

func testDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/allocation_test?sslmode=disable"
}

// newTestRedisClient is a client for looking at streams directly.
func newTestRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	requireIntegration(t)
	client := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s unreachable (set SKIP_INTEGRATION=1 to skip): %v", testRedisAddr(), err)
	}
	return client
}

func newTestRedisPubSub(t *testing.T, cfg RedisStreamsConfig) *RedisStreamsPubSub {
	t.Helper()
	requireIntegration(t)
	cfg.Redis.Addr = testRedisAddr()
	ps, err := NewRedisStreamsPubSub(cfg, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ps.Ping(ctx); err != nil {
		t.Fatalf("redis at %s unreachable (set SKIP_INTEGRATION=1 to skip): %v", testRedisAddr(), err)
	}
	return ps
}

// openTestDB opens the test database, creating it when missing.
func openTestDB(t *testing.T) *sql.DB {
	t.Helper()
	requireIntegration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("postgres", testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	err = db.PingContext(ctx)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "3D000" { // invalid_catalog_name
		createTestDatabase(ctx, t)
		err = db.PingContext(ctx)
	}
	if err != nil {
		t.Fatalf("postgres at %s unreachable (set SKIP_INTEGRATION=1 to skip): %v", testDatabaseURL(), err)
	}
	return db
}

func createTestDatabase(ctx context.Context, t *testing.T) {
	t.Helper()
	u, err := url.Parse(testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	// Parallel tests may race to create it: already there is fine.
	if errors.As(err, &pqErr) && (pqErr.Code == "42P04" || pqErr.Code == "23505") {
		return
	}
	if err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
}

// uniqueName is a topic or group name no other test run uses. Short, so
// that SQL table names stay within PostgreSQL's 63 bytes.
func uniqueName(prefix string) string {
	return prefix + "_" + strings.ToLower(watermill.NewShortUUID())
}

func subscribe(t *testing.T, s message.Subscriber, topic string) <-chan *message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	t.Cleanup(func() { _ = s.Close() })
	ch, err := s.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// receive waits for the next message, failing the test at the deadline.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return msg
	case <-time.After(waitTimeout):
		t.Fatal("no message within", waitTimeout)
		return nil
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within %s", what, waitTimeout)
		case <-tick.C:
		}
	}
}
