package tests

import (
	"fmt"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"allocation/tests/testenv"
)

// A flash sale (issue 12): service processes on one database and one broker
// namespace sell one sku, under concurrent orders of 1. Every order gets a
// definite answer: a 201 per unit and a 409 for every other order, nothing
// else (a 503 "concurrent update" is an order that should have been told
// 201 or 409); no batch holds more than it has; the database holds exactly
// the answered allocations; the read model shows each 201 on the batch it
// named, and nothing for the 409s.
func TestHotProductGetsADefiniteAnswer(t *testing.T) {
	for _, c := range []struct {
		name      string
		brokers   []string
		processes int
		batches   []int
		// orders go to the processes in turn from clients at once, in as
		// many sales, each on a sku of its own.
		orders, clients, sales int
	}{
		// Two processes, 300 units in 3 batches of 100, 400 orders from
		// 32 clients.
		{"two processes", postgresBrokers, 2, []int{100, 100, 100}, 400, 32, 1},
		// One process on the in-process broker: 60 orders at once on a
		// 25-unit batch, which before issue 12 answered a 503 in about
		// half of the runs; five sales, so that such a failure shows.
		{"one process", []string{"memory"}, 1, []int{25}, 60, 60, 5},
	} {
		for _, broker := range c.brokers {
			t.Run(c.name+"/postgres/"+broker, func(t *testing.T) {
				env := postgresEnv(t, broker, testenv.DatabaseURL(t))
				var urls []string
				for range c.processes {
					urls = append(urls, startService(t, env).URL)
				}
				for range c.sales {
					sale := newFlashSale(t, urls[0], c.batches...)
					sale.check(t, sale.order(t, urls, c.orders, c.clients), env["DATABASE_URL"], urls[0])
				}
			})
		}
	}
}

// Issue 12, point 5: the flash sale on the asynchronous path. Two service
// processes on one database and one broker namespace, one sku with 300
// units in 3 batches of 100; 400 orders of 1 sent with Prefer:
// respond-async, half to each process, from 32 clients, each answered 202
// with its Location. Meanwhile change_batch_quantity messages from the
// broker work on the same product (each loads and locks it for a write):
//
//   - no-ops: a base batch set to the 100 it has;
//   - real changes: four spare batches of 1 unit, shipping in 2099 (after
//     every base batch, so an order lands on one only when the base 300 are
//     taken), are each set to 0 once they hold an order line. That line is
//     deallocated and re-allocated (a command again) and, the base being
//     full, refused.
//
// Every spare holds a line at some point (400 orders, at most 304 units),
// base batches never shrink, and every message sets the quantity the batch
// ends with whatever order they are handled in, so the outcome is exact:
// 300 lines on the base batches, 100 orders refused, the 4 spares empty.
// The read model shows exactly the stored 300 and nothing for the other
// 100; once the broker holds nothing pending, neither process has parked
// anything (a command parked as "concurrent update" after its retries is
// what the issue forbids).
func TestHotProductAsyncCommandsAreAllHandledNoneParked(t *testing.T) {
	onEachPostgresBroker(t, func(t *testing.T, broker string) {
		env := postgresEnv(t, broker, testenv.DatabaseURL(t))
		one, two := startService(t, env), startService(t, env)
		pending := brokerBacklog(t, env)
		outside := outsideClientFor(t, env)
		db := testenv.Open(t, env["DATABASE_URL"])

		sale := newFlashSale(t, one.URL, 100, 100, 100)
		var spares []string
		for i := range 4 {
			ref := fmt.Sprintf("spare%d-%s", i, sale.sku)
			addBatch(t, one.URL, ref, sale.sku, 1, fmt.Sprintf("2099-01-%02d", i+1))
			spares = append(spares, ref)
		}
		var base []string
		for ref := range sale.batches {
			base = append(base, ref)
		}
		changeQuantity := func(ref string, qty int) {
			outside.publish(t, inboundTopic, fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty), "")
		}

		began := time.Now()
		var (
			answers []orderAnswer
			sending sync.WaitGroup
		)
		sending.Go(func() {
			answers = sale.order(t, []string{one.URL, two.URL}, 400, 32, "Prefer", "respond-async")
		})
		func() {
			defer sending.Wait() // also when publishing fails the test
			for i := range 30 {
				changeQuantity(base[i%len(base)], 100)
			}
		}()
		for _, a := range answers {
			if want := "/allocations/" + a.orderID; a.err != nil || a.status != http.StatusAccepted || a.location != want {
				t.Errorf("order %s = %d %s, Location %q (%v); want 202, Location %s", a.orderID, a.status, a.body, a.location, a.err, want)
			}
		}
		if t.Failed() {
			t.FailNow()
		}

		zeroed := map[string]bool{}
		testenv.Eventually(t, 90*time.Second, "each spare batch to take an order line (then set to 0)", func() bool {
			for _, ref := range linesOnBatches(t, db, spares) {
				if !zeroed[ref] {
					zeroed[ref] = true
					changeQuantity(ref, 0)
					changeQuantity(ref, 0) // again: the second is a no-op
				}
			}
			return len(zeroed) == len(spares)
		})
		t.Logf("4 spare batches took a line each and were set to 0 after %s", time.Since(began).Round(time.Millisecond))

		// The end state, stable once reached: base batches full (they
		// never shrink), spares at 0 and empty.
		var stored map[string]string
		testenv.Eventually(t, 90*time.Second, "300 lines on the base batches and the spares at 0", func() bool {
			if !batchesAtQuantity(t, db, spares, 0) {
				return false
			}
			stored = storedAllocations(t, db, sale.sku)
			return len(stored) == sale.units
		})
		perBatch := map[string]int{}
		for order, ref := range stored {
			perBatch[ref]++
			if _, ok := sale.batches[ref]; !ok {
				t.Errorf("order %s stored on %s, not a base batch", order, ref)
			}
		}
		for _, batch := range overAllocatedBatches(t, db, sale.sku) {
			t.Errorf("batch %s", batch)
		}
		t.Logf("stored: %d lines after %s, per batch %v", len(stored), time.Since(began).Round(time.Millisecond), perBatch)

		want := map[string]string{} // orderid -> stored batch, "" for none
		for _, a := range answers {
			want[a.orderID] = stored[a.orderID]
		}
		sale.waitForReadModel(t, one.URL, want, "the read model to show the 300 stored orders and nothing for the other 100")

		var (
			backlog string
			groups  int
		)
		defer func() {
			if backlog != "" {
				t.Logf("still pending: %s", backlog)
			}
		}()
		testenv.Eventually(t, 90*time.Second, "nothing pending on the broker", func() bool {
			backlog, groups = pending()
			return backlog == ""
		})
		t.Logf("read model settled and nothing pending in %d consumer groups after %s", groups, time.Since(began).Round(time.Millisecond))

		for _, p := range []*testenv.Service{one, two} {
			for _, m := range parkedMessages(t, p.URL) {
				t.Errorf("%s parked: handler %v, topic %v, reason %q, payload %v", p.URL, m["handler"], m["topic"], m["reason"], m["payload"])
			}
			t.Logf("%s: %v handler retries, %v concurrency conflicts", p.URL,
				metric(t, p.URL, "allocation_handler_retries_total"), metric(t, p.URL, "allocation_concurrency_conflicts_total"))
		}
		// Nothing moved once everything was handled.
		sale.checkReadModelNow(t, two.URL, want)
		if again := storedAllocations(t, db, sale.sku); !maps.Equal(again, stored) {
			t.Errorf("the stored lines changed once the broker settled: %d lines, %d before", len(again), len(stored))
		}
	})
}
