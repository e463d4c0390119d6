package tests

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/adapters/redispubsub"
	"allocation/tests/testenv"
)

// The book's test_change_batch_quantity_leading_to_reallocation, as its
// clients run it, over Redis Pub/Sub against the real binary on Redis
// Streams, with one process and with two: PUBLISH change_batch_quantity
// shrinking the batch an order is allocated to, SUBSCRIBE line_allocated
// and see the re-allocation to the other batch, exactly once. Broken
// messages published on the channel are parked with their reason like any
// bad inbound entry, and the next one is still handled.
func TestChangeBatchQuantityLeadingToReallocationOverRedisPubSub(t *testing.T) {
	for _, processes := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d processes", processes), func(t *testing.T) {
			env := postgresEnv(t, "redis", testenv.DatabaseURL(t))
			prefix := env["TOPIC_PREFIX"]
			var procs []*testenv.Service
			for range processes {
				procs = append(procs, startService(t, env))
			}
			book := newBookClient(t, env["REDIS_ADDR"], prefix)
			book.subscribe(t, outboundTopic)
			waitForOneBridge(t, book, procs, inboundTopic)
			url := procs[0].URL

			sku := "sku-" + watermill.NewShortUUID()
			earlier, later, order, sentinel := "batch1-"+sku, "batch2-"+sku, "order1-"+sku, "order2-"+sku
			addBatch(t, url, earlier, sku, 10, "2011-01-01")
			addBatch(t, url, later, sku, 10, "2011-01-02")
			if r := post(t, url+"/allocate", `{"orderid":"`+order+`","sku":"`+sku+`","qty":10}`); r.Status != http.StatusCreated {
				t.Fatalf("allocate = %d %s", r.Status, r.Body)
			}
			book.waitFor(t, outboundTopic, "line_allocated to the earlier batch", func(m map[string]any) bool {
				return m["orderid"] == order && m["batchref"] == earlier
			})

			inbound := []string{
				`{"batchref": "` + earlier + `", "qty":`, // not JSON
				`{"batchref": 42, "qty": "five"}`,        // breaks the contract
				`{"batchref":"` + earlier + `","qty":5}`, // the book's message
			}
			for _, payload := range inbound {
				if n := book.publish(t, inboundTopic, payload); n != 1 {
					t.Fatalf("PUBLISH %s reached %d subscribers, want one bridge", payload, n)
				}
			}
			book.waitFor(t, outboundTopic, "line_allocated to the later batch", func(m map[string]any) bool {
				return m["orderid"] == order && m["batchref"] == later
			})
			// Redis delivers a subscriber's messages in the order it ran the
			// PUBLISHes: a duplicate of the re-allocation made with it would
			// arrive before this later allocation's.
			if r := post(t, url+"/allocate", `{"orderid":"`+sentinel+`","sku":"`+sku+`","qty":1}`); r.Status != http.StatusCreated {
				t.Fatalf("allocate = %d %s", r.Status, r.Body)
			}
			book.waitFor(t, outboundTopic, "line_allocated of the later order", func(m map[string]any) bool { return m["orderid"] == sentinel })

			want := []map[string]any{
				{"orderid": order, "sku": sku, "qty": float64(10), "batchref": earlier},
				{"orderid": order, "sku": sku, "qty": float64(10), "batchref": later},
				{"orderid": sentinel, "sku": sku, "qty": float64(1), "batchref": earlier},
			}
			got := book.messages(outboundTopic)
			if len(got) != len(want) {
				t.Fatalf("line_allocated on the channel: %v, want each allocation once: %v", got, want)
			}
			for i := range want {
				if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
					t.Errorf("line_allocated %d = %v, want %v (exactly the contract's four fields)", i, got[i], want[i])
				}
			}

			entries, err := book.rdb.XRange(context.Background(), prefix+inboundTopic, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(inbound) {
				t.Fatalf("%d entries in stream %s, want each PUBLISH once: %v", len(entries), prefix+inboundTopic, entries)
			}
			for i, e := range entries {
				if e.Values["payload"] != inbound[i] {
					t.Errorf("entry %d payload = %v, want %q", i, e.Values["payload"], inbound[i])
				}
			}
			appended, holders := 0.0, 0.0
			for _, p := range procs {
				appended += metric(t, p.URL, "allocation_redis_pubsub_bridge_appended_total")
				holders += metric(t, p.URL, "allocation_redis_pubsub_bridge_holder")
			}
			if appended != float64(len(inbound)) || holders != 1 {
				t.Errorf("processes appended %v messages with %v holders, want %d with 1", appended, holders, len(inbound))
			}

			waitForParked(t, url, inbound[:2])
		})
	}
}

// waitForParked waits until every payload is in the poison queue, parked
// by the inbound handler from the change_batch_quantity topic with a reason.
func waitForParked(t *testing.T, url string, payloads []string) {
	t.Helper()
	var parked []map[string]any
	find := func(payload string) map[string]any {
		for _, p := range parked {
			if p["payload"] == payload {
				return p
			}
		}
		return nil
	}
	testenv.Eventually(t, 30*time.Second, "the broken messages in the poison queue", func() bool {
		parked = parkedMessages(t, url)
		for _, payload := range payloads {
			if find(payload) == nil {
				return false
			}
		}
		return true
	})
	for _, payload := range payloads {
		p := find(payload)
		if p["handler"] != "ChangeBatchQuantityFromBroker" || p["topic"] != inboundTopic || p["reason"] == "" {
			t.Errorf("parked %s = %v, want it parked by ChangeBatchQuantityFromBroker from %s with a reason", payload, p, inboundTopic)
		}
	}
}

// REDIS_PUBSUB_BRIDGE=false: nobody subscribes to the channel and the
// bridge's metrics are not there (they are registered at start-up when it
// is on).
func TestRedisPubSubBridgeCanBeTurnedOff(t *testing.T) {
	addr, prefix := testenv.RedisNamespace(t)
	p := startService(t, map[string]string{
		"STORE": "memory", "BROKER": "redis", "REDIS_ADDR": addr, "TOPIC_PREFIX": prefix,
		"REDIS_PUBSUB_BRIDGE": "false",
	})
	if body := string(get(t, p.URL+"/metrics").Body); strings.Contains(body, "allocation_redis_pubsub_bridge") {
		t.Error("the bridge's metrics are there with REDIS_PUBSUB_BRIDGE=false")
	}
	book := newBookClient(t, addr, prefix)
	if n := book.subscribers(t, inboundTopic); n != 0 {
		t.Errorf("%d subscribers of %s with REDIS_PUBSUB_BRIDGE=false", n, inboundTopic)
	}
	if logs := p.Logs.String(); strings.Contains(logs, bridgeSubscribedLog) || strings.Contains(logs, bridgeStandbyLog) {
		t.Error("a bridge ran with REDIS_PUBSUB_BRIDGE=false")
	}
}

// SIGTERM to the process holding the bridge: it exits 0 having released
// the lease, and the other process takes over at once, well before the
// lease would have expired.
func TestRedisPubSubBridgeHandsOverOnShutdown(t *testing.T) {
	addr, prefix := testenv.RedisNamespace(t)
	env := map[string]string{"STORE": "memory", "BROKER": "redis", "REDIS_ADDR": addr, "TOPIC_PREFIX": prefix}
	procs := []*testenv.Service{startService(t, env), startService(t, env)}
	book := newBookClient(t, addr, prefix)
	waitForOneBridge(t, book, procs, inboundTopic)
	holder, survivor := procs[0], procs[1]
	if !strings.Contains(holder.Logs.String(), bridgeSubscribedLog) {
		holder, survivor = survivor, holder
	}
	named := bridgeHolderName.FindStringSubmatch(holder.Logs.String())
	if named == nil {
		t.Fatal("the holder's log does not name it")
	}
	holderName := named[1]

	holder.Signal(syscall.SIGTERM)
	if code := holder.Wait(30 * time.Second); code != 0 {
		t.Fatalf("the holder exited %d, want 0", code)
	}
	exited := time.Now()
	if got := book.rdb.Get(context.Background(), redispubsub.LeaseKey(prefix)).Val(); got == holderName {
		t.Fatal("the holder exited without releasing the lease")
	}
	testenv.Eventually(t, 30*time.Second, "the other process subscribed", func() bool {
		return strings.Contains(survivor.Logs.String(), bridgeSubscribedLog) && book.subscribers(t, inboundTopic) == 1
	})
	if took := time.Since(exited); took >= redispubsub.DefaultLeaseTTL {
		t.Errorf("took over %s after the holder exited, want well within the lease (%s)", took, redispubsub.DefaultLeaseTTL)
	}
	if n := book.publish(t, inboundTopic, `{"batchref":"b1","qty":5}`); n != 1 {
		t.Fatalf("PUBLISH reached %d subscribers, want the new holder", n)
	}
	testenv.Eventually(t, 30*time.Second, "the new holder appended the message", func() bool {
		return metric(t, survivor.URL, "allocation_redis_pubsub_bridge_appended_total") == 1
	})
}

// bridgeHolderName finds the name a process holds the lease under in its
// log line.
var bridgeHolderName = regexp.MustCompile(regexp.QuoteMeta(bridgeSubscribedLog) + ` component=\S+ holder=(\S+)`)
