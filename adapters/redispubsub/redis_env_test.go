package redispubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"allocation/adapters/redispubsub"
	"allocation/tests/testenv"
)

// Integration tests run against real Redis (TEST_REDIS_ADDR), each under a
// topic prefix of its own, and fail when it is unreachable unless
// SKIP_INTEGRATION=1.

const waitTimeout = 15 * time.Second

// deployment is one test's share of Redis: a topic prefix, a client, and
// the names under the prefix. Its keys are deleted when the test ends.
type deployment struct {
	prefix string
	client *redis.Client
	// channel is the channel of topic, and the stream of the same name.
	channel string
	lease   string
}

func newDeployment(t *testing.T) deployment {
	t.Helper()
	addr, prefix := testenv.RedisNamespace(t)
	client := redispubsub.NewClient(redis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	return deployment{prefix: prefix, client: client, channel: prefix + topic, lease: redispubsub.LeaseKey(prefix)}
}

// eventually waits for cond within waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}

func subscribers(t *testing.T, client *redis.Client, channel string) int64 {
	t.Helper()
	n, err := client.PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n[channel]
}

func streamEntries(t *testing.T, client *redis.Client, stream string) []redis.XMessage {
	t.Helper()
	entries, err := client.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// publish PUBLISHes as a plain Pub/Sub client and returns how many
// subscribers received the message.
func publish(t *testing.T, client *redis.Client, channel, payload string) int64 {
	t.Helper()
	n, err := client.Publish(context.Background(), channel, payload).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
