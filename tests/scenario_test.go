package tests

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

const (
	inboundTopic  = "change_batch_quantity"
	outboundTopic = "line_allocated"
)

func listen(c outsideClient, topic string) {
	if l, ok := c.(interface{ listen(string) }); ok {
		l.listen(topic)
	}
}

// batchJSON is the body of POST /add_batch; no eta ("") is warehouse stock.
func batchJSON(ref, sku string, qty int, eta string) string {
	etaJSON := "null"
	if eta != "" {
		etaJSON = strconv.Quote(eta)
	}
	return fmt.Sprintf(`{"ref":%q,"sku":%q,"qty":%d,"eta":%s}`, ref, sku, qty, etaJSON)
}

func addBatch(t *testing.T, url, ref, sku string, qty int, eta string) {
	t.Helper()
	if r := post(t, url+"/add_batch", batchJSON(ref, sku, qty, eta)); r.Status != http.StatusCreated {
		t.Fatalf("add_batch %s = %d %s", ref, r.Status, r.Body)
	}
}

// The book's end-to-end scenario on every broker: an order allocated to the
// earlier batch over HTTP is re-allocated to the later one when the earlier
// batch shrinks through an external change_batch_quantity message, and
// line_allocated tells the outside world, with correlation ids carried
// through. A malformed inbound message is parked and does not stop the next.
func TestChangeOfBatchQuantityReallocatesThroughTheBroker(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
	}{
		{"default", nil},
		// Pollers that, once idle, poll only when this process commits
		// messages (never by the clock, within the test): every internal
		// hop is woken by the commit before it (the outbox relay by the
		// unit of work; SQL subscribers by the unit of work and the
		// publisher), and the inbound external topic is polled all the
		// same. In memory nothing polls.
		{"idle pollers woken by the service's own commits", map[string]string{"IDLE_POLL_INTERVAL": "1h"}},
	} {
		for _, setup := range brokerSetups {
			if c.env != nil && setup.name == "memory" {
				continue
			}
			t.Run(c.name+"/"+setup.name, func(t *testing.T) {
				reallocationScenario(t, setup.start(t, c.env))
			})
		}
	}
}

func reallocationScenario(t *testing.T, svc runningService) {
	t.Helper()
	listen(svc.client, outboundTopic)
	sku := "sku-" + watermill.NewShortUUID()
	early, later, order := "early-"+sku, "later-"+sku, "order-"+sku

	addBatch(t, svc.URL, early, sku, 10, "2030-01-01")
	addBatch(t, svc.URL, later, sku, 10, "2030-01-02")
	r := post(t, svc.URL+"/allocate", `{"orderid":"`+order+`","sku":"`+sku+`","qty":10}`, "X-Correlation-ID", "corr-http-"+sku)
	if r.Status != http.StatusCreated {
		t.Fatalf("allocate = %d %s", r.Status, r.Body)
	}
	first := waitForMessage(t, svc.client, outboundTopic, "line_allocated to the earlier batch", func(m outsideMessage) bool {
		return m.Payload["orderid"] == order && m.Payload["batchref"] == early
	})
	if first.CorrelationID != "corr-http-"+sku {
		t.Errorf("line_allocated correlation id = %q, want the HTTP request's", first.CorrelationID)
	}
	want := map[string]any{"orderid": order, "sku": sku, "qty": float64(10), "batchref": early}
	for k, v := range want {
		if first.Payload[k] != v {
			t.Errorf("payload[%s] = %v, want %v", k, first.Payload[k], v)
		}
	}
	if len(first.Payload) != len(want) {
		t.Errorf("payload %v has fields beyond the contract", first.Payload)
	}

	// Valid JSON (the SQL broker stores payloads as JSON) that breaks the contract.
	svc.client.publish(t, inboundTopic, `{"batchref": 42, "qty": "five"}`, "corr-broken-"+sku)
	svc.client.publish(t, inboundTopic, `{"batchref":"`+early+`","qty":5}`, "corr-broker-"+sku)
	second := waitForMessage(t, svc.client, outboundTopic, "line_allocated to the later batch", func(m outsideMessage) bool {
		return m.Payload["orderid"] == order && m.Payload["batchref"] == later
	})
	if second.CorrelationID != "corr-broker-"+sku {
		t.Errorf("re-allocation correlation id = %q, want the inbound message's", second.CorrelationID)
	}

	var parked []map[string]any
	testenv.Eventually(t, 30*time.Second, "the malformed message in the poison queue", func() bool {
		parked = parkedMessages(t, svc.URL)
		for _, p := range parked {
			if p["correlation_id"] == "corr-broken-"+sku {
				return true
			}
		}
		return false
	})
	for _, p := range parked {
		if p["correlation_id"] == "corr-broken-"+sku {
			if p["handler"] != "ChangeBatchQuantityFromBroker" || p["reason"] == "" || p["topic"] != inboundTopic {
				t.Errorf("parked = %v", p)
			}
		}
	}
}
