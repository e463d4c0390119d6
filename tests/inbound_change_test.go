package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// Issue 13, point 4: a change_batch_quantity replayed after a newer one
// changes nothing. A change for a batch that does not exist yet is parked
// (unknown batch); the batch is created, a newer change is applied; the
// parked one, replayed from the poison queue, is older than the change
// applied (its place in the order of changes travels with the parked
// copy), so it is dropped with a log line and acknowledged: the batch
// keeps the newer quantity, and nothing is parked again.
func TestStaleChangeBatchQuantityReplayedAfterANewerOneChangesNothing(t *testing.T) {
	onEachPostgresBroker(t, func(t *testing.T, broker string) {
		env := postgresEnv(t, broker, testenv.DatabaseURL(t))
		p := startService(t, env)
		outside := outsideClientFor(t, env)
		db := testenv.Open(t, env["DATABASE_URL"])
		quantity := func(ref string) int { return purchasedQuantity(t, db, ref) }

		const ref = "b-x"
		run := watermill.NewShortUUID()
		staleCorrelation := "corr-stale-" + run
		outside.publish(t, inboundTopic, `{"batchref":"b-x","qty":5}`, staleCorrelation)
		var stale map[string]any
		testenv.Eventually(t, 30*time.Second, "the change for a batch not there yet in the poison queue", func() bool {
			for _, m := range parkedMessages(t, p.URL) {
				if m["correlation_id"] == staleCorrelation {
					stale = m
					return true
				}
			}
			return false
		})
		if stale["handler"] != "ChangeBatchQuantityFromBroker" || !strings.Contains(fmt.Sprint(stale["reason"]), ref) {
			t.Errorf("parked = %v, want it parked by ChangeBatchQuantityFromBroker for the unknown batch", stale)
		}
		metadata, _ := stale["metadata"].(map[string]any)
		if metadata["change_sequence"] == nil {
			t.Errorf("the parked copy has no change_sequence: %v", stale)
		}

		addBatch(t, p.URL, ref, "sku-"+run, 10, "")
		outside.publish(t, inboundTopic, `{"batchref":"b-x","qty":20}`, "corr-newer-"+run)
		testenv.Eventually(t, 30*time.Second, "the newer change applied (20)", func() bool { return quantity(ref) == 20 })

		id := fmt.Sprint(stale["id"])
		var replayed struct {
			Replayed []string `json:"replayed"`
		}
		adminRequest(t, "POST", p.URL+"/admin/poison/replay", fmt.Sprintf(`{"ids":[%q]}`, id)).json(t, &replayed)
		if len(replayed.Replayed) != 1 || replayed.Replayed[0] != id {
			t.Fatalf("replay of %s answered %v", id, replayed.Replayed)
		}
		dropped := func() bool {
			for _, line := range strings.Split(p.Logs.String(), "\n") {
				if strings.Contains(line, "dropped a change_batch_quantity older than the last one applied") &&
					strings.Contains(line, "batchref="+ref) && strings.Contains(line, staleCorrelation) {
					return true
				}
			}
			return false
		}
		// Handled once it is dropped (the newer change stands) or
		// applied (the bug): either ends the wait.
		testenv.Eventually(t, 30*time.Second, "the replayed change handled", func() bool { return dropped() || quantity(ref) != 20 })
		if got := quantity(ref); got != 20 {
			t.Fatalf("the replayed stale change set batch %s to %d, want it to stay at 20", ref, got)
		}
		for _, m := range parkedMessages(t, p.URL) {
			if m["correlation_id"] == staleCorrelation {
				t.Errorf("the replayed change is parked again: %v", m)
			}
		}
		// And a later change still applies.
		outside.publish(t, inboundTopic, `{"batchref":"b-x","qty":7}`, "corr-later-"+run)
		testenv.Eventually(t, 30*time.Second, "a change after the replay applied (7)", func() bool { return quantity(ref) == 7 })
	})
}

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
