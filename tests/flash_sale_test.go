package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// flashSale is one sku with its batches (ref -> quantity).
type flashSale struct {
	sku     string
	batches map[string]int
	units   int
}

// newFlashSale adds one batch per quantity through url: the first is
// warehouse stock (no eta), the others shipments on later and later days,
// so orders spill from one batch to the next.
func newFlashSale(t *testing.T, url string, quantities ...int) *flashSale {
	t.Helper()
	s := &flashSale{sku: "hot-" + watermill.NewShortUUID(), batches: map[string]int{}}
	for i, qty := range quantities {
		ref, eta := fmt.Sprintf("b%d-%s", i, s.sku), ""
		if i > 0 {
			eta = fmt.Sprintf("2030-01-%02d", i)
		}
		addBatch(t, url, ref, s.sku, qty, eta)
		s.batches[ref] = qty
		s.units += qty
	}
	return s
}

// orderAnswer is what one POST /allocate got.
type orderAnswer struct {
	orderID  string
	batchRef string // of a 201
	timedAnswer
}

// order sends n orders of 1 unit, order i to urls[i % len(urls)], from
// clients concurrent clients, all released at once; headers (name, value,
// ...) go with every request.
func (s *flashSale) order(t *testing.T, urls []string, n, clients int, headers ...string) []orderAnswer {
	t.Helper()
	client := &http.Client{
		// Bounded: a request the service never answers fails the test
		// instead of hanging it.
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients},
	}
	t.Cleanup(client.CloseIdleConnections)
	answers := make([]orderAnswer, n)
	next := make(chan int, n)
	for i := range n {
		answers[i].orderID = fmt.Sprintf("o%03d-%s", i, s.sku)
		next <- i
	}
	close(next)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			<-start
			for i := range next {
				a := &answers[i]
				body := fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":1}`, a.orderID, s.sku)
				a.post(client, urls[i%len(urls)]+"/allocate", body, headers)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d orders from %d clients to %d process(es) answered in %s", n, clients, len(urls), time.Since(began).Round(time.Millisecond))
	return answers
}

// check holds the answers against the stock, the database and the read
// model (read through url).
func (s *flashSale) check(t *testing.T, answers []orderAnswer, databaseURL, url string) {
	t.Helper()
	created := map[string]string{} // orderid -> batch ref
	var refused []string
	perBatch := map[string]int{}
	unexpected := map[string][]string{} // "status body" -> orderids
	for _, a := range answers {
		switch {
		case a.err != nil:
			key := fmt.Sprintf("%d %s (%v)", a.status, a.body, a.err)
			unexpected[key] = append(unexpected[key], a.orderID)
		case a.status == http.StatusCreated:
			created[a.orderID] = a.batchRef
			perBatch[a.batchRef]++
		case a.status == http.StatusConflict && hasMessage(a.body):
			refused = append(refused, a.orderID)
		default:
			key := fmt.Sprintf("%d %s", a.status, a.body)
			unexpected[key] = append(unexpected[key], a.orderID)
		}
	}
	t.Logf("%d × 201, %d × 409 out of stock, %d other; 201s per batch: %v", len(created), len(refused), len(answers)-len(created)-len(refused), perBatch)
	for key, orders := range unexpected {
		t.Errorf("%d × %s (e.g. order %s)", len(orders), key, orders[0])
	}
	if len(created) != s.units || len(refused) != len(answers)-s.units {
		t.Errorf("%d × 201 and %d × 409, want exactly %d and %d", len(created), len(refused), s.units, len(answers)-s.units)
	}
	for ref, n := range perBatch {
		if qty, ok := s.batches[ref]; !ok || n > qty {
			t.Errorf("%d orders answered 201 on batch %q, which is not one of the sku's or holds only %d", n, ref, qty)
		}
	}
	s.checkStored(t, databaseURL, created)
	s.checkReadModel(t, url, created, refused)
}

// checkStored reads the database as the service left it: every batch
// within its quantity, and the allocations exactly those answered 201.
func (s *flashSale) checkStored(t *testing.T, databaseURL string, created map[string]string) {
	t.Helper()
	db := testenv.Open(t, databaseURL)
	for _, batch := range overAllocatedBatches(t, db, s.sku) {
		t.Errorf("batch %s", batch)
	}
	stored := storedAllocations(t, db, s.sku)
	for order, ref := range created {
		if stored[order] != ref {
			t.Errorf("order %s answered 201 on %s, stored on %q", order, ref, stored[order])
		}
	}
	for order, ref := range stored {
		if _, ok := created[order]; !ok {
			t.Errorf("order %s stored on %s without a 201", order, ref)
		}
	}
}

// checkReadModel waits until GET /allocations/{orderid} shows every order
// answered 201 on its batch, then finds nothing for the orders refused.
func (s *flashSale) checkReadModel(t *testing.T, url string, created map[string]string, refused []string) {
	t.Helper()
	s.waitForReadModel(t, url, created, "the read model to show every allocated order")
	// The read model has caught up with the events of the sale: an order
	// refused shows nothing.
	none := map[string]string{}
	for _, order := range refused {
		none[order] = ""
	}
	s.checkReadModelNow(t, url, none)
}

// waitForReadModel waits until GET /allocations/{orderid} shows each order
// of want (orderid -> batch ref) on its batch, or nothing (404) where the
// ref is "".
func (s *flashSale) waitForReadModel(t *testing.T, url string, want map[string]string, what string) {
	t.Helper()
	pending := maps.Clone(want)
	shown := map[string]string{} // what the read model last showed, for the failure message
	defer func() {
		if t.Failed() && len(pending) > 0 {
			t.Logf("%d orders not shown as expected yet; read model showed e.g. %v", len(pending), firstEntries(shown, 5))
		}
	}()
	testenv.Eventually(t, 60*time.Second, what, func() bool {
		for order, ref := range pending {
			ok, answer := s.readModelShows(t, url, order, ref)
			if !ok {
				// Not there yet: look again on the next tick (the
				// others are likely not there either).
				shown[order] = answer
				return false
			}
			delete(pending, order)
			delete(shown, order)
		}
		return true
	})
}

// checkReadModelNow fails the test for each order of want (orderid ->
// batch ref, "" for none) that the read model does not show so now.
func (s *flashSale) checkReadModelNow(t *testing.T, url string, want map[string]string) {
	t.Helper()
	for order, ref := range want {
		if ok, answer := s.readModelShows(t, url, order, ref); !ok {
			if ref == "" {
				ref = "nothing (404)"
			}
			t.Errorf("GET /allocations/%s = %s, want %s", order, answer, ref)
		}
	}
}

// readModelShows tells whether GET /allocations/{order} shows the order on
// batch ref of the sale's sku alone, or nothing (404) when ref is "";
// answer is what it showed.
func (s *flashSale) readModelShows(t *testing.T, url, order, ref string) (ok bool, answer string) {
	t.Helper()
	r := get(t, url+"/allocations/"+order)
	answer = fmt.Sprintf("%d %s", r.Status, r.Body)
	if ref == "" {
		return r.Status == http.StatusNotFound, answer
	}
	var rows []struct{ SKU, BatchRef string }
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &rows) != nil {
		return false, answer
	}
	return len(rows) == 1 && rows[0].SKU == s.sku && rows[0].BatchRef == ref, answer
}

// post sends the order from any goroutine and records the answer, and
// the batch of a 201.
func (a *orderAnswer) post(client *http.Client, url, body string, headers []string) {
	a.timedAnswer = send(client, http.MethodPost, url, body, headers...)
	if a.err == nil && a.status == http.StatusCreated {
		var created struct {
			BatchRef string `json:"batchref"`
		}
		a.err = json.Unmarshal([]byte(a.body), &created)
		a.batchRef = created.BatchRef
	}
}

// hasMessage tells whether body is an error as the API writes them,
// {"message": "..."}.
func hasMessage(body string) bool {
	var e struct{ Message string }
	return json.Unmarshal([]byte(body), &e) == nil && e.Message != ""
}

func firstEntries(m map[string]string, n int) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+": "+v)
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}
