package tests

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
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
