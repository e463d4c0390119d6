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
