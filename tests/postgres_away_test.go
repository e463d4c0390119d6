package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// Issue 13, point 3: PostgreSQL goes away for about 4 s under a light load
// (4 clients allocating distinct orders with stock to spare) and comes
// back; the service reaches it through a proxy that refuses connections
// and cuts the open ones. Every request gets an answer within its deadline,
// 201 or 503 (never 500); every 503 names the database in a JSON message
// and says Retry-After; every order answered 201 is stored and shows in
// the read model afterwards, and so does every order answered 503 that was
// stored all the same (a commit whose answer was lost). The service
// recovers by itself: new orders are 201 again, /readyz is 200.
// change_batch_quantity messages sent during the outage wait for the
// database instead of being parked, and are applied once it is back, in
// order.
func TestPostgresAwayUnderLightLoadAnswers503AndLosesNothing(t *testing.T) {
	onEachPostgresBroker(t, postgresAwayUnderLoad)
}

// allocationAnswer is one order's answer, and when it was sent.
type allocationAnswer struct {
	order, sku string
	sent       time.Time
	timedAnswer
}

func postgresAwayUnderLoad(t *testing.T, broker string) {
	const requestTimeout = 5 * time.Second
	pg := newProxiedDatabase(t)
	env := postgresEnv(t, broker, pg.url)
	env["REQUEST_TIMEOUT"] = requestTimeout.String()
	// Through the real address: the outside world still reaches the
	// database; only the service has lost it.
	outside := outsideClientFor(t, merge(env, map[string]string{"DATABASE_URL": pg.direct}))
	p := startService(t, env)

	run := watermill.NewShortUUID()
	skus := make([]string, 4)
	for i := range skus {
		skus[i] = newFlashSale(t, p.URL, 1_000_000).sku
	}
	// Batches whose quantity messages change during the outage: each gets
	// two changes, and must end with the second.
	changed := make([]string, 3)
	for i := range changed {
		changed[i] = fmt.Sprintf("chg%d-%s", i, run)
		addBatch(t, p.URL, changed[i], "chg-"+run, 10, "")
	}

	var (
		mu      sync.Mutex
		answers []allocationAnswer
		stop    = make(chan struct{})
		clients sync.WaitGroup
	)
	count := func(status int, since time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range answers {
			if a.status == status && !a.sent.Before(since) {
				n++
			}
		}
		return n
	}
	for c, sku := range skus {
		clients.Go(func() {
			pace := time.NewTicker(20 * time.Millisecond) // a light load
			defer pace.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				order := fmt.Sprintf("o%d-%d-%s", c, n, run)
				a := allocationAnswer{order: order, sku: sku, sent: time.Now()}
				a.timedAnswer = timedCall("POST", p.URL+"/allocate", fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, order, sku))
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}
		})
	}
	stopClients := sync.OnceFunc(func() {
		close(stop)
		clients.Wait()
	})
	defer stopClients()

	began := time.Now()
	testenv.Eventually(t, 30*time.Second, "20 allocations before the outage", func() bool { return count(http.StatusCreated, began) >= 20 })

	pg.proxy.Stop()
	outageBegan := time.Now()
	for round := range 2 {
		for i, ref := range changed {
			outside.publish(t, inboundTopic, fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, 20+10*round+i), "")
		}
	}
	testenv.Eventually(t, 30*time.Second, "4 s of outage, with 503s", func() bool {
		return time.Since(outageBegan) >= 4*time.Second && count(http.StatusServiceUnavailable, outageBegan) > 0
	})
	pg.proxy.Start()
	outageEnded := time.Now()
	testenv.Eventually(t, 60*time.Second, "20 allocations answered 201 after the outage", func() bool {
		return count(http.StatusCreated, outageEnded) >= 20
	})
	recovered := time.Now()
	stopClients()

	// Every answer: 201 or 503, within the deadline; 503s say why.
	statuses := map[string]map[int]int{}
	var slowest time.Duration
	for _, a := range answers {
		phase := "before"
		switch {
		case !a.sent.Before(outageEnded):
			phase = "after"
		case !a.sent.Before(outageBegan):
			phase = "during"
		}
		if statuses[phase] == nil {
			statuses[phase] = map[int]int{}
		}
		statuses[phase][a.status]++
		slowest = max(slowest, a.took)
		switch {
		case a.err != nil:
			t.Errorf("order %s (sent %s): no answer after %s: %v", a.order, phase, a.took, a.err)
		case a.status == http.StatusCreated:
		case a.status == http.StatusServiceUnavailable:
			if why := a.unavailableBecauseOf("database"); why != "" {
				t.Errorf("order %s (sent %s): 503 %s", a.order, phase, why)
			}
		default:
			t.Errorf("order %s (sent %s) = %d %s, want 201 or 503", a.order, phase, a.status, a.body)
		}
		if a.took > requestTimeout+2*time.Second {
			t.Errorf("order %s (sent %s) answered after %s, beyond REQUEST_TIMEOUT (%s)", a.order, phase, a.took.Round(time.Millisecond), requestTimeout)
		}
	}
	t.Logf("statuses by when the order was sent: %v (0 = no answer); outage %s, first 20 orders 201 again %s after it; slowest answer %s",
		statuses, outageEnded.Sub(outageBegan).Round(time.Millisecond), recovered.Sub(outageEnded).Round(time.Millisecond), slowest.Round(time.Millisecond))

	// Every 201 is stored, on the batch it named; a 503 may or may not
	// have committed. Whatever is stored shows in the read model.
	stored := storedAllocations(t, pg.db, "")
	visible := map[string]string{} // order -> batch it must show
	var absent []string            // answered 503 and not stored
	for _, a := range answers {
		ref, isStored := stored[a.order]
		switch {
		case a.status == http.StatusCreated:
			var body struct {
				BatchRef string `json:"batchref"`
			}
			_ = json.Unmarshal([]byte(a.body), &body)
			if !isStored || ref != body.BatchRef {
				t.Errorf("order %s answered 201 on %q, stored on %q", a.order, body.BatchRef, ref)
			}
			visible[a.order] = ref
		case isStored:
			visible[a.order] = ref
		default:
			absent = append(absent, a.order)
		}
	}
	ambiguous := len(visible) - count(http.StatusCreated, began)
	t.Logf("%d orders stored (%d of them answered 503: committed, answer lost), %d answered 503 and not stored", len(visible), ambiguous, len(absent))
	testenv.Eventually(t, 60*time.Second, "the read model showing every stored order", func() bool {
		for order, ref := range visible {
			r := timedCall("GET", p.URL+"/allocations/"+order, "")
			if r.status != http.StatusOK || !strings.Contains(r.body, `"batchref":"`+ref+`"`) {
				return false
			}
			delete(visible, order)
		}
		return true
	})
	for _, order := range absent {
		if r := timedCall("GET", p.URL+"/allocations/"+order, ""); r.status != http.StatusNotFound {
			t.Errorf("order %s, neither answered 201 nor stored, is shown: %d %s", order, r.status, r.body)
		}
	}
	if r := timedCall("GET", p.URL+"/readyz", ""); r.status != http.StatusOK {
		t.Errorf("/readyz after the outage = %d %s", r.status, r.body)
	}

	// The changes sent during the outage are applied, the later one last,
	// and none was parked.
	for i, ref := range changed {
		want := 30 + i
		testenv.Eventually(t, 60*time.Second, fmt.Sprintf("batch %s at %d", ref, want), func() bool {
			return purchasedQuantity(t, pg.db, ref) == want
		})
	}
	if parked := parkedMessages(t, p.URL); len(parked) > 0 {
		t.Errorf("%d messages parked, want none:", len(parked))
		for _, m := range parked {
			t.Errorf("  parked %v", m)
		}
	}
	if overAllocated := overAllocatedBatches(t, pg.db, ""); len(overAllocated) > 0 {
		sort.Strings(overAllocated)
		t.Errorf("over-allocated: %v", overAllocated)
	}
}
