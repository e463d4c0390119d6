package tests

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"allocation/tests/testenv"
)

// bookClient is a service written against the book: it speaks Redis
// Pub/Sub with plain go-redis, PUBLISH and SUBSCRIBE, bare JSON payloads.
type bookClient struct {
	rdb    *redis.Client
	prefix string

	mu       sync.Mutex
	received map[string][]map[string]any
}

func newBookClient(t *testing.T, addr, prefix string) *bookClient {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return &bookClient{rdb: rdb, prefix: prefix, received: map[string][]map[string]any{}}
}

// subscribe SUBSCRIBEs to channel and collects what arrives; it returns
// once Redis has confirmed the subscription.
func (c *bookClient) subscribe(t *testing.T, channel string) {
	t.Helper()
	ps := c.rdb.Subscribe(context.Background(), c.prefix+channel)
	t.Cleanup(func() { _ = ps.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	messages := ps.Channel()
	go func() {
		for m := range messages {
			var payload map[string]any
			if err := json.Unmarshal([]byte(m.Payload), &payload); err != nil {
				payload = map[string]any{"_unparsable": m.Payload}
			}
			c.mu.Lock()
			c.received[channel] = append(c.received[channel], payload)
			c.mu.Unlock()
		}
	}()
}

// publish PUBLISHes payload on channel and returns how many subscribers
// Redis delivered it to.
func (c *bookClient) publish(t *testing.T, channel, payload string) int64 {
	t.Helper()
	n, err := c.rdb.Publish(context.Background(), c.prefix+channel, payload).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (c *bookClient) messages(channel string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.received[channel]...)
}

// waitFor waits until a message on channel matches.
func (c *bookClient) waitFor(t *testing.T, channel, what string, match func(map[string]any) bool) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, what, func() bool {
		for _, m := range c.messages(channel) {
			if match(m) {
				return true
			}
		}
		return false
	})
}

func (c *bookClient) subscribers(t *testing.T, channel string) int64 {
	t.Helper()
	n, err := c.rdb.PubSubNumSub(context.Background(), c.prefix+channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n[c.prefix+channel]
}

// Log lines of the bridge (adapters/redispubsub) telling whether a process
// holds the lease and is subscribed, or is on standby.
const (
	bridgeSubscribedLog = `msg="holding the lease: subscribed"`
	bridgeStandbyLog    = `msg="on standby: another process holds the lease"`
)

// waitForOneBridge waits until every process has said whether it holds the
// bridge lease, one holds it, and the channel has that one subscriber: only
// then is a PUBLISH heard, and heard once.
func waitForOneBridge(t *testing.T, c *bookClient, procs []*testenv.Service, channel string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "one bridge subscribed, the others on standby", func() bool {
		holders := 0
		for _, p := range procs {
			logs := p.Logs.String()
			subscribed, standby := strings.Contains(logs, bridgeSubscribedLog), strings.Contains(logs, bridgeStandbyLog)
			if !subscribed && !standby {
				return false
			}
			if subscribed {
				holders++
			}
		}
		return holders == 1 && c.subscribers(t, channel) == 1
	})
}
