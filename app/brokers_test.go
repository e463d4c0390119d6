package app_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/adapters/pubsub"
	"allocation/app"
)

// brokers lists every broker the handler suite runs on.
func brokers() []brokerCase {
	return []brokerCase{
		{name: "memory", newPubSub: func(t *testing.T) app.PubSub {
			ps := pubsub.NewGoChannelPubSub(watermill.NopLogger{})
			t.Cleanup(func() { _ = ps.Close() })
			return ps
		}},
	}
}

// forEachBroker runs a test of the suite on every broker.
func forEachBroker(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, b := range brokers() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, newHarness(t, b))
		})
	}
}
