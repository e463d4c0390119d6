package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// On the brokers that carry any bytes (the SQL broker stores JSON only): a
// change_batch_quantity whose body is not JSON at all, from a plain client,
// is parked with the reason and its correlation id, and listed by
// /admin/poison; the message after it is handled.
func TestUnparsableInboundMessageIsParked(t *testing.T) {
	for _, broker := range []string{"redis", "nats"} {
		t.Run(broker, func(t *testing.T) {
			svc := startBinaryOn(broker)(t, nil)
			sku := "unparsable-" + watermill.NewShortUUID()
			addBatch(t, svc.URL, "b-"+sku, sku, 10, "")
			svc.client.publish(t, inboundTopic, `{"batchref": "b-`+sku, "corr-unparsable-"+sku)
			svc.client.publish(t, inboundTopic, `{"batchref":"b-`+sku+`","qty":3}`, "corr-after-"+sku)

			var parked map[string]any
			testenv.Eventually(t, 30*time.Second, "the unparsable message in the poison queue", func() bool {
				for _, p := range parkedMessages(t, svc.URL) {
					if p["correlation_id"] == "corr-unparsable-"+sku {
						parked = p
						return true
					}
				}
				return false
			})
			if parked["handler"] != "ChangeBatchQuantityFromBroker" || parked["topic"] != inboundTopic || !strings.Contains(strings.ToLower(parked["reason"].(string)), "json") {
				t.Errorf("parked = %v, want it parked by ChangeBatchQuantityFromBroker with a reason naming the JSON", parked)
			}
			handled := `allocation_handler_execution_time_seconds_count{handler_name="ChangeBatchQuantityFromBroker",success="true"}`
			testenv.Eventually(t, 30*time.Second, "the next message handled", func() bool { return metric(t, svc.URL, handled) >= 1 })
			if r := post(t, svc.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":4}`); r.Status != 409 {
				t.Errorf("allocating 4 of a batch changed to 3 = %d %s, want 409", r.Status, r.Body)
			}
		})
	}
}
