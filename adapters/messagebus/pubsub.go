package messagebus

import "github.com/ThreeDotsLabs/watermill/message"

// PubSub is the broker chosen by configuration. Every subscriber belongs to
// a consumer group: subscribers of one group share its messages, each group
// gets every message.
type PubSub interface {
	Publisher() message.Publisher
	// Subscriber hands the group's messages over one at a time, in order
	// (within this process). Commands and inbound external messages use it:
	// two changes of one batch's quantity must apply in the order sent.
	Subscriber(consumerGroup string) (message.Subscriber, error)
	// ConcurrentSubscriber may hand over several messages at once, out of
	// order; a broker that cannot returns its Subscriber. Event handlers use
	// it: they do not depend on the order of events (the read model applies
	// them by product version), and one that waits on a round trip per event
	// would otherwise fall behind the commands that raise them. Part of the
	// interface, not an optional extra, so that no wrapper can lose it.
	ConcurrentSubscriber(consumerGroup string) (message.Subscriber, error)
}
