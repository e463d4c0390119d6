package pubsub

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/messagebus"
	"allocation/tests/testenv"
)

// Integration tests run against real Redis and PostgreSQL and fail when
// those are unreachable, unless SKIP_INTEGRATION=1.

const waitTimeout = 15 * time.Second

func requireIntegration(t *testing.T) {
	t.Helper()
	if testenv.SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
}

func testRedisAddr() string { return testenv.BaseRedisAddr() }

// newTestRedisClient is a client for looking at streams directly.
func newTestRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func newTestRedisPubSub(t *testing.T, cfg RedisStreamsConfig) *RedisStreamsPubSub {
	t.Helper()
	cfg.Redis.Addr = testenv.RedisAddr(t)
	ps, err := NewRedisStreamsPubSub(cfg, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return ps
}

// newRedisTopic is a client of the test Redis, a pub/sub on it and a topic
// of the test's own, deleted when the test ends.
func newRedisTopic(t *testing.T, name string) (*redis.Client, *RedisStreamsPubSub, string) {
	t.Helper()
	client := newTestRedisClient(t)
	topic := uniqueName(name)
	t.Cleanup(func() { client.Del(context.Background(), topic) })
	return client, newTestRedisPubSub(t, RedisStreamsConfig{}), topic
}

// openTestDB opens the test database: the tests name their tables apart.
func openTestDB(t *testing.T) *sql.DB { return testenv.BaseDatabase(t) }

// uniqueName is a topic or group name no other test run uses. Short, so
// that SQL table names stay within PostgreSQL's 63 bytes.
func uniqueName(prefix string) string {
	return prefix + "_" + strings.ToLower(watermill.NewShortUUID())
}

func subscribe(t *testing.T, s message.Subscriber, topic string) <-chan *message.Message {
	t.Helper()
	t.Cleanup(func() { _ = s.Close() })
	return testenv.Subscribe(t, s, topic)
}

// subscribeGroup subscribes to topic in a consumer group of ps until the
// test ends.
func subscribeGroup(t *testing.T, ps messagebus.PubSub, group, topic string) <-chan *message.Message {
	t.Helper()
	sub, err := ps.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	return subscribe(t, sub, topic)
}

// receive waits for the next message, failing the test at the deadline.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	return testenv.Receive(t, ch, waitTimeout)
}

// publishMessages publishes n messages on topic and returns their UUIDs.
func publishMessages(t *testing.T, pub message.Publisher, topic string, n int) map[string]bool {
	t.Helper()
	sent := map[string]bool{}
	for range n {
		msg := message.NewMessage(watermill.NewUUID(), []byte(`{}`))
		sent[msg.UUID] = true
		if err := pub.Publish(topic, msg); err != nil {
			t.Fatal(err)
		}
	}
	return sent
}

// wantEachOnce checks that a group handled only sent messages, each once.
func wantEachOnce(t *testing.T, group string, seen map[string]int, sent map[string]bool) {
	t.Helper()
	for id, count := range seen {
		if !sent[id] || count != 1 {
			t.Errorf("message %s handled %d times in group %s (sent: %v)", id, count, group, sent[id])
		}
	}
}

// eventually waits for cond within waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}
