package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"

	"allocation/tests/testenv"
)

// Redis killed under the service and started again empty (persistence
// off, as on this machine and in many caches): while it is away the
// service still answers 201 through the outbox and /readyz says 503
// naming redis; once it is back the subscriptions recreate their groups,
// line_allocated reaches the new Redis for every allocation made during
// the outage, the read model shows every allocation, /readyz is 200 again
// and new allocations flow. Allocations made before the outage were
// published to the old Redis and are not published again.
func TestRedisRestartedEmptyTheServiceRecoversByItself(t *testing.T) {
	server := startRedisServer(t, "--save", "", "--appendonly", "no")
	o := redisOutage(t, server)
	for _, order := range o.before {
		if n := o.published[order]; n != 0 {
			t.Errorf("order %s, published to the Redis that was lost, was published again %d times", order, n)
		}
	}
	for _, order := range append(o.during, o.after...) {
		if n := o.published[order]; n != 1 {
			t.Errorf("order %s has %d distinct line_allocated messages on the new Redis, want 1", order, n)
		}
	}
}

// Redis killed and started again on its append-only file: nothing lost,
// nothing duplicated. Every allocation has exactly one line_allocated
// entry (not only one UUID), and no group keeps anything pending.
func TestRedisRestartedWithItsDataLosesAndDuplicatesNothing(t *testing.T) {
	server := startRedisServer(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	o := redisOutage(t, server)
	entries := lineAllocatedEntries(t, o.rdb)
	for _, order := range append(append(o.before, o.during...), o.after...) {
		if n := entries[order]; n != 1 {
			t.Errorf("order %s has %d line_allocated entries, want 1", order, n)
		}
	}
	waitUntil(t, 30*time.Second, "no pending entry in any group", func() bool { return pendingMessages(t, o.rdb, "") == 0 })
	// What every group acknowledged is trimmed (every 5 s): an internal
	// stream keeps only the last entry delivered.
	waitUntil(t, 30*time.Second, "internal streams trimmed", func() bool {
		longest, _ := longestInternalStream(t, o.rdb)
		return longest <= 1 && o.rdb.Exists(context.Background(), "allocation.events.Allocated").Val() == 1
	})
}

// longestInternalStream is the length and name of the longest stream of
// commands or events.
func longestInternalStream(t *testing.T, rdb *redis.Client) (int64, string) {
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "allocation.*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var longest int64
	var name string
	for _, key := range keys {
		if !strings.HasPrefix(key, "allocation.events.") && !strings.HasPrefix(key, "allocation.commands.") {
			continue
		}
		if n := rdb.XLen(ctx, key).Val(); n > longest {
			longest, name = n, key
		}
	}
	return longest, name
}

// outageRun is what redisOutage did and saw.
type outageRun struct {
	before, during, after []string
	// published counts distinct line_allocated UUIDs per order on the
	// Redis that runs at the end.
	published map[string]int
	rdb       *redis.Client
}

// redisOutage runs the service on server, allocates, kills the server,
// allocates during the outage, starts it again, allocates after, and waits
// until every allocation since the outage is published and every
// allocation shows in the read model.
func redisOutage(t *testing.T, server *redisServer) outageRun {
	p := startService(t, binary.get(t), map[string]string{
		"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": testenv.DatabaseURL(t),
		"REDIS_ADDR": server.addr, "REDIS_PUBSUB_BRIDGE": "false", "LOG_LEVEL": "info",
	})
	rdb := server.client()
	t.Cleanup(func() { _ = rdb.Close() })
	sku := "fault-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 100, "")
	run := outageRun{rdb: rdb}
	allocate := func(phase string, n int) []string {
		var orders []string
		for i := range n {
			order := fmt.Sprintf("%s-%s-%d", phase, sku, i)
			if r := postWithin(t, p.URL+"/allocate", fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, order, sku)); r.Status != http.StatusCreated {
				t.Fatalf("allocate %s (%s) = %d %s", order, phase, r.Status, r.Body)
			}
			orders = append(orders, order)
		}
		return orders
	}
	published := func(orders []string) func() bool {
		return func() bool {
			got := lineAllocatedUUIDs(t, rdb)
			for _, o := range orders {
				if got[o] == 0 {
					return false
				}
			}
			return true
		}
	}

	run.before = allocate("before", 3)
	waitUntil(t, 30*time.Second, "line_allocated for the orders before the outage", published(run.before))
	waitUntil(t, 30*time.Second, "every event handled before the outage", func() bool { return pendingMessages(t, rdb, "") == 0 })

	server.kill()
	waitUntil(t, 30*time.Second, "/readyz 503 naming redis", func() bool { return readyzNames(t, p.URL, "redis") })
	run.during = allocate("during", 3)
	if !readyzNames(t, p.URL, "redis") {
		t.Fatal("/readyz does not answer 503 naming redis while Redis is away")
	}

	server.start()
	waitUntil(t, 30*time.Second, "line_allocated for every allocation made during the outage", published(run.during))
	waitUntil(t, 30*time.Second, "/readyz 200 once Redis is back", func() bool { return get(t, p.URL+"/readyz").Status == http.StatusOK })
	run.after = allocate("after", 2)
	waitUntil(t, 30*time.Second, "line_allocated for the allocations after the outage", published(run.after))
	for _, order := range append(append(run.before, run.during...), run.after...) {
		waitUntil(t, 30*time.Second, "the read model showing "+order, func() bool {
			r := get(t, p.URL+"/allocations/"+order)
			return r.Status == http.StatusOK && strings.Contains(string(r.Body), "b-"+sku)
		})
	}
	run.published = lineAllocatedUUIDs(t, rdb)

	logs := p.logs.String()
	if n := strings.Count(logs, "Redis unreachable"); n < 1 || n > 2 {
		t.Errorf("the outage was logged %d times, want once (twice if the first start of redis-server raced a call)", n)
	}
	if !strings.Contains(logs, "Redis reachable again") {
		t.Error("the recovery was not logged")
	}
	return run
}

// postWithin is post with a deadline: a request must not hang while a
// dependency is away.
func postWithin(t *testing.T, url, body string) httpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

// readyzNames tells whether /readyz answers 503 with a message naming what.
func readyzNames(t *testing.T, url, what string) bool {
	r := get(t, url+"/readyz")
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(r.Body, &body)
	return r.Status == http.StatusServiceUnavailable && strings.Contains(body.Message, what)
}

// lineAllocatedEntries counts the entries of line_allocated per order.
func lineAllocatedEntries(t *testing.T, rdb *redis.Client) map[string]int {
	counts := map[string]int{}
	for _, m := range (&redisClient{rdb: rdb}).received(outboundTopic) {
		order, _ := m.Payload["orderid"].(string)
		counts[order]++
	}
	return counts
}

// lineAllocatedUUIDs counts the distinct line_allocated UUIDs per order
// (what a consumer de-duplicating by UUID sees).
func lineAllocatedUUIDs(t *testing.T, rdb *redis.Client) map[string]int {
	seen := map[string]bool{}
	counts := map[string]int{}
	for _, m := range (&redisClient{rdb: rdb}).received(outboundTopic) {
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		order, _ := m.Payload["orderid"].(string)
		counts[order]++
	}
	return counts
}
