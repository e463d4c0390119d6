package natsbroker

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"allocation/adapters/messagebus"
	"allocation/adapters/pubsub"
	"allocation/tests/testenv"
)

// Watermill's universal pub/sub suite against the real server, in a topic
// namespace of its own. Features, honestly:
//   - consumer groups: yes (a durable consumer per group and topic);
//     exactly once: no (at least once).
//   - order: a Subscriber has one subscription, handed one message at a
//     time in stream order; a redelivered message comes late.
//   - persistent: yes. A new subscriber of a group does not get what the
//     group already handled; a new group gets everything in the stream.
func TestSubscriberPassesWatermillsUniversalSuite(t *testing.T) {
	runUniversalSuite(t, messagebus.PubSub.Subscriber, tests.Features{
		ConsumerGroups:                      true,
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: true,
		Persistent:                          true,
	})
}

// The event handlers' subscriber hands out several messages at once: no
// order, the rest as above.
func TestConcurrentSubscriberPassesWatermillsUniversalSuite(t *testing.T) {
	runUniversalSuite(t, messagebus.PubSub.ConcurrentSubscriber, tests.Features{
		ConsumerGroups: true,
		Persistent:     true,
	})
}

func runUniversalSuite(t *testing.T, subscriber func(messagebus.PubSub, string) (message.Subscriber, error), features tests.Features) {
	prefix := testenv.TopicPrefix()
	// The suite nacks hundreds of times and waits seconds for redelivery.
	ps := pubsub.NewNamespacedPubSub(newTestPubSub(t, Config{NackDelay: time.Millisecond, AckWait: 2 * time.Second}, prefix), prefix)
	constructor := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		sub, err := subscriber(ps, group)
		if err != nil {
			t.Fatal(err)
		}
		return ps.Publisher(), sub
	}
	tests.TestPubSub(t, features, func(t *testing.T) (message.Publisher, message.Subscriber) {
		return constructor(t, "universal")
	}, constructor)
}
