package redispubsub_test

import (
	"context"
	"errors"
	"net"
	"sync"
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
	prefix := testenv.TopicPrefix()
	client := redispubsub.NewClient(redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() {
		deleteKeys(client, prefix)
		_ = client.Close()
	})
	return deployment{prefix: prefix, client: client, channel: prefix + topic, lease: redispubsub.LeaseKey(prefix)}
}

func deleteKeys(client *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		client.Del(ctx, iter.Val())
	}
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

// severableNetwork dials Redis for one client until the test severs it:
// then every connection drops and no new one can be made, as when the
// process dies or is cut off, until heal.
type severableNetwork struct {
	mu      sync.Mutex
	conns   []net.Conn
	severed bool
}

func (n *severableNetwork) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.severed {
		return nil, errors.New("network severed by the test")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		n.conns = append(n.conns, conn)
	}
	return conn, err
}

func (n *severableNetwork) sever() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.severed = true
	for _, c := range n.conns {
		_ = c.Close()
	}
	n.conns = nil
}

func (n *severableNetwork) heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.severed = false
}
