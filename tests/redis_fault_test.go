package tests

import (
	"context"
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
	server := testenv.StartRedisServer(t, "--save", "", "--appendonly", "no")
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
	server := testenv.StartRedisServer(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	o := redisOutage(t, server)
	entries := o.outside.lineAllocated(false)
	for _, order := range append(append(o.before, o.during...), o.after...) {
		if n := entries[order]; n != 1 {
			t.Errorf("order %s has %d line_allocated entries, want 1", order, n)
		}
	}
	testenv.Eventually(t, 30*time.Second, "nothing pending or undelivered in any group", o.settled)
	// What every group acknowledged is trimmed (every 5 s): an internal
	// stream keeps only the last entry delivered.
	testenv.Eventually(t, 30*time.Second, "internal streams trimmed", func() bool {
		longest, _ := longestInternalStream(t, o.outside.rdb)
		return longest <= 1 && o.outside.rdb.Exists(context.Background(), "allocation.events.Allocated").Val() == 1
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
	t                     *testing.T
	before, during, after []string
	// published counts distinct line_allocated UUIDs per order on the
	// Redis that runs at the end.
	published map[string]int
	// outside reads the Redis that runs at the end.
	outside *redisClient
}

// settled tells whether every consumer group has been delivered and has
// acked every entry.
func (o outageRun) settled() bool {
	backlog, _ := o.outside.backlog(o.t)
	return backlog == ""
}

// redisOutage runs the service on server, allocates, kills the server,
// allocates during the outage, starts it again, allocates after, and waits
// until every allocation since the outage is published and every
// allocation shows in the read model.
func redisOutage(t *testing.T, server *testenv.RedisServer) outageRun {
	// No topic prefix: the server is the test's own.
	p := startService(t, map[string]string{
		"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": testenv.DatabaseURL(t),
		"REDIS_ADDR": server.Addr, "REDIS_PUBSUB_BRIDGE": "false", "LOG_LEVEL": "info",
	})
	outside := &redisClient{rdb: server.Client()}
	t.Cleanup(func() { _ = outside.rdb.Close() })
	sku := "fault-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 100, "")
	run := outageRun{t: t, outside: outside}
	allocate := func(phase string, n int) []string {
		var orders []string
		for i := range n {
			order := fmt.Sprintf("%s-%s-%d", phase, sku, i)
			// Within a bound: a request must not hang while Redis is away.
			a := timedCall("POST", p.URL+"/allocate", fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, order, sku))
			if a.status != http.StatusCreated || a.took > 10*time.Second {
				t.Fatalf("allocate %s (%s) = %d %s (%v) after %s", order, phase, a.status, a.body, a.err, a.took)
			}
			orders = append(orders, order)
		}
		return orders
	}
	published := func(orders []string) func() bool {
		return func() bool {
			got := outside.lineAllocated(true)
			for _, o := range orders {
				if got[o] == 0 {
					return false
				}
			}
			return true
		}
	}

	run.before = allocate("before", 3)
	testenv.Eventually(t, 30*time.Second, "line_allocated for the orders before the outage", published(run.before))
	testenv.Eventually(t, 30*time.Second, "every event handled before the outage", run.settled)

	server.Kill()
	testenv.Eventually(t, 30*time.Second, "/readyz 503 naming redis", func() bool { return redisNotReady(p.URL) })
	run.during = allocate("during", 3)
	if !redisNotReady(p.URL) {
		t.Fatal("/readyz does not answer 503 naming redis while Redis is away")
	}

	server.Start()
	testenv.Eventually(t, 30*time.Second, "line_allocated for every allocation made during the outage", published(run.during))
	testenv.Eventually(t, 30*time.Second, "/readyz 200 once Redis is back", func() bool { return get(t, p.URL+"/readyz").Status == http.StatusOK })
	run.after = allocate("after", 2)
	testenv.Eventually(t, 30*time.Second, "line_allocated for the allocations after the outage", published(run.after))
	for _, order := range append(append(run.before, run.during...), run.after...) {
		testenv.Eventually(t, 30*time.Second, "the read model showing "+order, func() bool {
			r := get(t, p.URL+"/allocations/"+order)
			return r.Status == http.StatusOK && strings.Contains(string(r.Body), "b-"+sku)
		})
	}
	run.published = outside.lineAllocated(true)

	logs := p.Logs.String()
	if n := strings.Count(logs, "Redis unreachable"); n < 1 || n > 2 {
		t.Errorf("the outage was logged %d times, want once (twice if the first start of redis-server raced a call)", n)
	}
	if !strings.Contains(logs, "Redis reachable again") {
		t.Error("the recovery was not logged")
	}
	return run
}

// redisNotReady tells whether /readyz answers 503 naming redis.
func redisNotReady(url string) bool {
	return timedCall("GET", url+"/readyz", "").notReadyBecauseOf("redis") == ""
}
