package tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// Issue 13, points 3 and 5: PostgreSQL freezes under a running service (it
// keeps its connections and accepts new ones, and answers nothing).
// Commands sent meanwhile, several orders at once on one product and a new
// batch, are answered 503 naming the database, with Retry-After, within
// REQUEST_TIMEOUT (reads: TestFrozenPostgresReadsAnswerWithinRequestTimeout);
// /readyz answers 503 naming postgres within its own bound. Once the
// database answers again the service recovers by itself, and whatever it
// stored meanwhile shows in the read model. Frozen again, SIGTERM still
// stops the process, with a request in flight.
func TestFrozenPostgresRequestsStayBoundedAndSIGTERMWorks(t *testing.T) {
	onEachPostgresBroker(t, frozenPostgres)
}

func frozenPostgres(t *testing.T, broker string) {
	const (
		requestTimeout = 2 * time.Second
		// The bound /readyz promises itself (ports/httpapi readinessTimeout).
		readinessBound  = 2 * time.Second
		shutdownTimeout = 5 * time.Second
		// Scheduling, the race detector, a busy machine.
		margin = 1500 * time.Millisecond
	)
	pg := newProxiedDatabase(t)
	p := startService(t, merge(postgresEnv(t, broker, pg.url), map[string]string{
		"REQUEST_TIMEOUT": requestTimeout.String(), "DATABASE_TIMEOUT": "2s", "SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
	}))
	sku := "frozen-" + watermill.NewShortUUID()
	ref := "b-" + sku
	addBatch(t, p.URL, ref, sku, 1000, "")
	if r := post(t, p.URL+"/allocate", `{"orderid":"o-before-`+sku+`","sku":"`+sku+`","qty":1}`); r.Status != http.StatusCreated {
		t.Fatalf("allocate before the freeze = %d %s", r.Status, r.Body)
	}
	testenv.Eventually(t, 30*time.Second, "the first allocation in the read model", func() bool {
		return timedCall("GET", p.URL+"/allocations/o-before-"+sku, "").status == http.StatusOK
	})

	pg.proxy.Freeze()
	type call struct {
		what, method, path, body string
		// names is what a 503 must name; bound when it must have answered.
		names string
		bound time.Duration
		probe bool // answers no Retry-After
	}
	var calls []call
	for i := range 4 { // at once, on one product: one runs, three queue
		order := fmt.Sprintf("o-frozen%d-%s", i, sku)
		calls = append(calls, call{"allocate " + order, "POST", "/allocate", fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, order, sku), "database", requestTimeout + margin, false})
	}
	calls = append(calls,
		call{"add_batch", "POST", "/add_batch", `{"ref":"b2-` + sku + `","sku":"` + sku + `","qty":5,"eta":null}`, "database", requestTimeout + margin, false},
		call{"readyz", "GET", "/readyz", "", "postgres", readinessBound + margin, true},
	)
	answers := make([]timedAnswer, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { answers[i] = timedCall(c.method, p.URL+c.path, c.body) })
	}
	wg.Wait()
	for i, c := range calls {
		a := answers[i]
		why := a.unavailableBecauseOf(c.names)
		if c.probe {
			why = a.notReadyBecauseOf(c.names)
		}
		if why != "" {
			t.Errorf("%s while postgres is frozen: %s (after %s)", c.what, why, a.took.Round(time.Millisecond))
		}
		if a.took > c.bound {
			t.Errorf("%s while postgres is frozen answered after %s, want within %s", c.what, a.took.Round(time.Millisecond), c.bound)
		}
		t.Logf("frozen: %s = %d %q after %s", c.what, a.status, a.message(), a.took.Round(time.Millisecond))
	}
	if p.HasExited() {
		t.Fatalf("the service exited while postgres was frozen: %v", p.ExitErr)
	}

	pg.proxy.Thaw()
	thawed := time.Now()
	testenv.Eventually(t, 30*time.Second, "/readyz 200 after the freeze", func() bool {
		return timedCall("GET", p.URL+"/readyz", "").status == http.StatusOK
	})
	after := "o-after-" + sku
	testenv.Eventually(t, 30*time.Second, "an allocation answered 201 after the freeze", func() bool {
		return timedCall("POST", p.URL+"/allocate", fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, after, sku)).status == http.StatusCreated
	})
	t.Logf("ready and allocating %s after the thaw", time.Since(thawed).Round(time.Millisecond))
	// Orders answered 503 may have been stored (the answer lost, not the
	// commit): whatever is stored shows.
	stored := storedAllocations(t, pg.db, sku)
	for order := range stored {
		testenv.Eventually(t, 30*time.Second, "the read model showing "+order, func() bool {
			r := timedCall("GET", p.URL+"/allocations/"+order, "")
			return r.status == http.StatusOK && strings.Contains(r.body, ref)
		})
	}
	t.Logf("%d orders stored (2 answered 201): %v", len(stored), stored)

	// Frozen again, with a request in flight: SIGTERM still ends the
	// process, within its shutdown timeout, and the request is answered.
	// The request is held inside its transaction by a row lock the test
	// takes through the real address, so that it is in the service (and
	// in PostgreSQL) when the database freezes.
	_, lockPID := lockProduct(t, pg.db, sku)
	inFlight := make(chan timedAnswer, 1)
	go func() {
		inFlight <- timedCall("POST", p.URL+"/allocate", fmt.Sprintf(`{"orderid":"o-stopping-%s","sku":%q,"qty":1}`, sku, sku))
	}()
	testenv.Eventually(t, requestTimeout, "the request in flight to wait on the row lock", func() bool {
		return sessionsBlockedBy(t, pg.db, lockPID) > 0
	})
	pg.proxy.Freeze()
	signalled := time.Now()
	p.Signal(syscall.SIGTERM)
	code := p.Wait(shutdownTimeout + 2*requestTimeout + margin)
	t.Logf("exited %d %s after SIGTERM with postgres frozen", code, time.Since(signalled).Round(time.Millisecond))
	a := <-inFlight // the process is gone: its connection is closed
	if why := a.unavailableBecauseOf("database"); why != "" {
		t.Errorf("the request in flight at SIGTERM: %s (after %s)", why, a.took.Round(time.Millisecond))
	}
	t.Logf("the request in flight at SIGTERM: %d %q after %s", a.status, a.message(), a.took.Round(time.Millisecond))
}

// Issue 13, point 5, for reads: with the default DATABASE_TIMEOUT (10 s,
// longer than any request may take) a query of the read model that
// PostgreSQL never answers still ends at the request's deadline: GET
// /allocations/{orderid} answers 503 within REQUEST_TIMEOUT, as commands
// do. Several reads at once: some find an idle connection of the pool
// (whose query lib/pq cancels by asking the frozen server), some open a
// new one.
func TestFrozenPostgresReadsAnswerWithinRequestTimeout(t *testing.T) {
	const requestTimeout, margin = 2 * time.Second, 1500 * time.Millisecond
	pg := newProxiedDatabase(t)
	p := startService(t, merge(postgresEnv(t, "sql", pg.url), map[string]string{
		"REQUEST_TIMEOUT": requestTimeout.String(), "DATABASE_TIMEOUT": "10s",
	}))
	sku := "frozen-read-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 10, "")
	var orders []string
	for i := range 3 {
		order := fmt.Sprintf("o%d-%s", i, sku)
		if r := post(t, p.URL+"/allocate", fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, order, sku)); r.Status != http.StatusCreated {
			t.Fatalf("allocate %s = %d %s", order, r.Status, r.Body)
		}
		orders = append(orders, order)
	}
	for _, order := range orders {
		testenv.Eventually(t, 30*time.Second, "the read model showing "+order, func() bool {
			return timedCall("GET", p.URL+"/allocations/"+order, "").status == http.StatusOK
		})
	}

	pg.proxy.Freeze()
	answers := make([]timedAnswer, len(orders))
	var wg sync.WaitGroup
	for i, order := range orders {
		wg.Go(func() { answers[i] = timedCall("GET", p.URL+"/allocations/"+order, "") })
	}
	wg.Wait()
	for i, a := range answers {
		if why := a.unavailableBecauseOf("database"); why != "" {
			t.Errorf("GET /allocations/%s while postgres is frozen: %s", orders[i], why)
		}
		if a.took > requestTimeout+margin {
			t.Errorf("GET /allocations/%s while postgres is frozen answered after %s, want within REQUEST_TIMEOUT (%s) + %s",
				orders[i], a.took.Round(time.Millisecond), requestTimeout, margin)
		}
		t.Logf("GET /allocations/%s: %d %q after %s", orders[i], a.status, a.message(), a.took.Round(time.Millisecond))
	}
	pg.proxy.Thaw()
	testenv.Eventually(t, 30*time.Second, "reads answered again after the thaw", func() bool {
		return timedCall("GET", p.URL+"/allocations/"+orders[0], "").status == http.StatusOK
	})
}
