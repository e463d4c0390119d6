package tests

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// Two service processes on one consumer group (a Redis group, a NATS
// durable consumer with its queue group) share the inbound messages: 200
// change_batch_quantity messages are each handled exactly once between
// them, and every one has its effect.
func TestTwoProcessesShareInboundMessagesExactlyOnce(t *testing.T) {
	for _, broker := range []string{"redis", "nats"} {
		t.Run(broker, func(t *testing.T) { twoProcessesShareInboundMessages(t, broker) })
	}
}

func twoProcessesShareInboundMessages(t *testing.T, broker string) {
	const messages = 200
	env := postgresEnv(t, broker, testenv.DatabaseURL(t))
	one := startService(t, env)
	two := startService(t, env)
	client := outsideClientFor(t, env)

	// Each message empties a batch holding one order line, which then moves
	// to its sku's spare batch: one line_allocated per message handled.
	run := watermill.NewShortUUID()
	var wg sync.WaitGroup
	errs := make(chan error, messages)
	for i := range messages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sku := fmt.Sprintf("w%s-%d", run, i)
			for _, b := range []struct{ ref, eta string }{{"main-" + sku, ""}, {"spare-" + sku, "2030-01-01"}} {
				if r := timedCall("POST", one.URL+"/add_batch", batchJSON(b.ref, sku, 1, b.eta)).status; r != http.StatusCreated {
					errs <- fmt.Errorf("add_batch %s: %d", b.ref, r)
					return
				}
			}
			if r := timedCall("POST", two.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":1}`).status; r != http.StatusCreated {
				errs <- fmt.Errorf("allocate %s: %d", sku, r)
			}
		}()
		if i%16 == 15 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for i := range messages {
		sku := fmt.Sprintf("w%s-%d", run, i)
		client.publish(t, inboundTopic, `{"batchref":"main-`+sku+`","qty":0}`, "")
	}
	series := `allocation_handler_execution_time_seconds_count{handler_name="ChangeBatchQuantityFromBroker",success="true"}`
	var handledOne, handledTwo float64
	testenv.Eventually(t, 60*time.Second, strconv.Itoa(messages)+" messages handled", func() bool {
		handledOne, handledTwo = metric(t, one.URL, series), metric(t, two.URL, series)
		return handledOne+handledTwo >= messages
	})
	testenv.Eventually(t, 60*time.Second, "every line re-allocated", func() bool {
		moved := map[string]bool{}
		for _, m := range client.received(outboundTopic) {
			if b, _ := m.Payload["batchref"].(string); len(b) > 6 && b[:6] == "spare-" {
				moved[m.ID] = true
			}
		}
		return len(moved) == messages
	})
	// Whatever might still be redelivered would show in the counts now.
	handledOne, handledTwo = metric(t, one.URL, series), metric(t, two.URL, series)
	if handledOne+handledTwo != messages {
		t.Fatalf("handled %v + %v = %v times, want exactly %d", handledOne, handledTwo, handledOne+handledTwo, messages)
	}
	if handledOne == 0 || handledTwo == 0 {
		t.Fatalf("the work was not shared: %v and %v", handledOne, handledTwo)
	}
	t.Logf("process one handled %v, process two %v", handledOne, handledTwo)
}

// A service killed with SIGKILL under load and started again loses nothing:
// every allocation answered 201 is in the database, every allocation in
// the database has exactly one line_allocated (after de-duplication by
// message UUID), no batch holds more than it has, and no message is left
// pending in any consumer group. On Redis and on NATS, where the messages
// the dead process held are delivered again once their ack wait is over.
func TestSIGKILLUnderLoadLosesNothing(t *testing.T) {
	for _, broker := range []string{"redis", "nats"} {
		t.Run(broker, func(t *testing.T) { sigkillUnderLoad(t, broker) })
	}
}

func sigkillUnderLoad(t *testing.T, broker string) {
	env := postgresEnv(t, broker, testenv.DatabaseURL(t))
	first := startService(t, env)

	// 20 skus, two batches of 40 each: with 1-3 per order about 500
	// orders fit, so the run ends with contention and some out of stock.
	run := watermill.NewShortUUID()
	skus := make([]string, 20)
	for i := range skus {
		skus[i] = newFlashSale(t, first.URL, 40, 40).sku
	}

	var (
		mu        sync.Mutex
		answered  = map[string]string{} // orderid -> batchref, for every 201
		successes atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				order := fmt.Sprintf("o%s-%d-%d", run, w, n)
				sku := skus[rand.IntN(len(skus))]
				body := fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":%d}`, order, sku, 1+rand.IntN(3))
				resp, err := client.Post(first.URL+"/allocate", "application/json", strings.NewReader(body))
				if err != nil {
					continue // the process is gone: nothing was promised
				}
				var r struct {
					BatchRef string `json:"batchref"`
				}
				decodeErr := json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated && decodeErr == nil {
					mu.Lock()
					answered[order] = r.BatchRef
					mu.Unlock()
					successes.Add(1)
				}
			}
		}()
	}
	testenv.Eventually(t, 30*time.Second, "200 allocations under load", func() bool { return successes.Load() >= 200 })
	first.Signal(syscall.SIGKILL)
	first.Wait(10 * time.Second)
	close(stop)
	wg.Wait()

	// The new process relays what the outbox still holds and claims the
	// dead consumer's pending entries.
	startService(t, env)

	db := testenv.Open(t, env["DATABASE_URL"])
	stored := storedAllocations(t, db, "")
	for order, ref := range answered {
		if stored[order] != ref {
			t.Errorf("order %s was answered 201 on %s but the database has %q", order, ref, stored[order])
		}
	}
	if over := overAllocatedBatches(t, db, ""); len(over) > 0 {
		t.Errorf("%d batches over-allocated: %v", len(over), over)
	}

	outside := outsideClientFor(t, env)
	lineAllocated := func() map[string]int { return lineAllocatedPerOrder(outside, true) }
	testenv.Eventually(t, 90*time.Second, "a line_allocated for every stored allocation", func() bool {
		return len(lineAllocated()) >= len(stored)
	})
	for order, n := range lineAllocated() {
		if n != 1 {
			t.Errorf("order %s has %d distinct line_allocated messages, want 1", order, n)
		}
		if _, ok := stored[order]; !ok {
			t.Errorf("line_allocated for order %s which the database does not hold", order)
		}
	}
	pending := brokerBacklog(t, env)
	testenv.Eventually(t, 90*time.Second, "nothing pending or undelivered in any consumer group", func() bool {
		backlog, _ := pending()
		return backlog == ""
	})
	t.Logf("%d answered 201 before the kill, %d allocations stored", len(answered), len(stored))
}
