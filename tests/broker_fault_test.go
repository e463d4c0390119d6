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
	o := brokerOutage(t, redisUnderTest(t, server))
	o.publishedOnlySinceTheOutage()
}

// Redis killed and started again on its append-only file: nothing lost,
// nothing duplicated. Every allocation has exactly one line_allocated
// entry (not only one UUID), and no group keeps anything pending.
func TestRedisRestartedWithItsDataLosesAndDuplicatesNothing(t *testing.T) {
	server := testenv.StartRedisServer(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	o := brokerOutage(t, redisUnderTest(t, server))
	o.publishedOnce()
	testenv.Eventually(t, 30*time.Second, "nothing pending or undelivered in any group", o.settled)
	// What every group acknowledged is trimmed (every 5 s): an internal
	// stream keeps only the last entry delivered.
	rdb := o.outside.(*redisClient).rdb
	testenv.Eventually(t, 30*time.Second, "internal streams trimmed", func() bool {
		longest, _ := longestInternalStream(t, rdb)
		return longest <= 1 && rdb.Exists(context.Background(), "allocation.events.Allocated").Val() == 1
	})
}

// nats-server killed under the service and started again, on its store or
// on an empty one: as with Redis, the service answers 201 through the
// outbox and /readyz says 503 naming nats while it is away; once it is
// back the service provisions what the server lost, every allocation made
// during and after the outage reaches line_allocated, and /readyz is 200.
// With its store, every allocation has exactly one line_allocated message
// (JetStream's duplicate window drops a relay's re-send) and no durable
// consumer keeps anything pending.
func TestNATSRestartedTheServiceRecoversByItself(t *testing.T) {
	t.Run("with its store", func(t *testing.T) {
		o := brokerOutage(t, natsUnderTest(t, testenv.StartNATSServer(t), false))
		o.publishedOnce()
		testenv.Eventually(t, 30*time.Second, "nothing pending or undelivered in any consumer", o.settled)
	})
	t.Run("store lost", func(t *testing.T) {
		o := brokerOutage(t, natsUnderTest(t, testenv.StartNATSServer(t), true))
		o.publishedOnlySinceTheOutage()
	})
}

// brokerUnderTest is a broker server of the test's own that an outage
// kills and starts again.
type brokerUnderTest struct {
	name    string            // as /readyz names it
	env     map[string]string // the service's broker settings
	kill    func()
	start   func()
	outside outsideClient // reads the server that runs at the end
	// logged checks what the service logged about the outage.
	logged func(t *testing.T, logs string)
}

func redisUnderTest(t *testing.T, server *testenv.RedisServer) brokerUnderTest {
	outside := &redisClient{rdb: server.Client()}
	t.Cleanup(func() { _ = outside.rdb.Close() })
	// No topic prefix: the server is the test's own.
	return brokerUnderTest{
		name:    "redis",
		env:     map[string]string{"BROKER": "redis", "REDIS_ADDR": server.Addr, "REDIS_PUBSUB_BRIDGE": "false"},
		kill:    server.Kill,
		start:   server.Start,
		outside: outside,
		logged: func(t *testing.T, logs string) {
			if n := strings.Count(logs, "Redis unreachable"); n < 1 || n > 2 {
				t.Errorf("the outage was logged %d times, want once (twice if the first start of redis-server raced a call)", n)
			}
			if !strings.Contains(logs, "Redis reachable again") {
				t.Error("the recovery was not logged")
			}
		},
	}
}

// natsUnderTest is server, which loses its store while killed if
// loseStore.
func natsUnderTest(t *testing.T, server *testenv.NATSServer, loseStore bool) brokerUnderTest {
	kill := server.Kill
	if loseStore {
		kill = func() {
			server.Kill()
			server.LoseStore()
		}
	}
	return brokerUnderTest{
		name:    "nats",
		env:     map[string]string{"BROKER": "nats", "NATS_URL": server.URL},
		kill:    kill,
		start:   server.Start,
		outside: newNATSClient(t, server.URL, ""),
		logged:  func(*testing.T, string) {},
	}
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

// outageRun is what brokerOutage did and saw.
type outageRun struct {
	t                     *testing.T
	before, during, after []string
	// published counts distinct line_allocated UUIDs per order on the
	// server that runs at the end.
	published map[string]int
	// outside reads the server that runs at the end.
	outside outsideClient
}

// settled tells whether every consumer group has been delivered and has
// acked every entry.
func (o outageRun) settled() bool {
	backlog, _ := o.outside.(backlogReader).backlog(o.t)
	return backlog == ""
}

// publishedOnlySinceTheOutage checks, for a server that lost its data,
// that each allocation since the outage has one line_allocated message,
// and that those before, published to the data lost, were not published
// again.
func (o outageRun) publishedOnlySinceTheOutage() {
	for _, order := range o.before {
		if n := o.published[order]; n != 0 {
			o.t.Errorf("order %s, published to the data that was lost, was published again %d times", order, n)
		}
	}
	for _, order := range append(o.during, o.after...) {
		if n := o.published[order]; n != 1 {
			o.t.Errorf("order %s has %d distinct line_allocated messages on the new server, want 1", order, n)
		}
	}
}

// publishedOnce checks, for a server that kept its data, that every
// allocation has exactly one line_allocated message (not only one UUID).
func (o outageRun) publishedOnce() {
	entries := lineAllocatedPerOrder(o.outside, false)
	for _, order := range append(append(o.before, o.during...), o.after...) {
		if n := entries[order]; n != 1 {
			o.t.Errorf("order %s has %d line_allocated messages, want 1", order, n)
		}
	}
}

// brokerOutage runs the service on broker, allocates, kills the server,
// allocates during the outage, starts it again, allocates after, and waits
// until every allocation since the outage is published and every
// allocation shows in the read model.
func brokerOutage(t *testing.T, broker brokerUnderTest) outageRun {
	p := startService(t, merge(broker.env, map[string]string{
		"STORE": "postgres", "DATABASE_URL": testenv.DatabaseURL(t), "LOG_LEVEL": "info",
	}))
	outside := broker.outside
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
			got := lineAllocatedPerOrder(outside, true)
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

	notReady := func() bool { return timedCall("GET", p.URL+"/readyz", "").notReadyBecauseOf(broker.name) == "" }
	broker.kill()
	testenv.Eventually(t, 30*time.Second, "/readyz 503 naming "+broker.name, notReady)
	run.during = allocate("during", 3)
	if !notReady() {
		t.Fatalf("/readyz does not answer 503 naming %s while it is away", broker.name)
	}

	broker.start()
	testenv.Eventually(t, 30*time.Second, "line_allocated for every allocation made during the outage", published(run.during))
	testenv.Eventually(t, 30*time.Second, "/readyz 200 once "+broker.name+" is back", func() bool { return get(t, p.URL+"/readyz").Status == http.StatusOK })
	run.after = allocate("after", 2)
	testenv.Eventually(t, 30*time.Second, "line_allocated for the allocations after the outage", published(run.after))
	for _, order := range append(append(run.before, run.during...), run.after...) {
		testenv.Eventually(t, 30*time.Second, "the read model showing "+order, func() bool {
			r := get(t, p.URL+"/allocations/"+order)
			return r.Status == http.StatusOK && strings.Contains(string(r.Body), "b-"+sku)
		})
	}
	run.published = lineAllocatedPerOrder(outside, true)
	broker.logged(t, p.Logs.String())
	return run
}
