package app

import "github.com/ThreeDotsLabs/watermill/message"

// PubSub is the broker chosen by configuration. Every subscriber belongs to
// a consumer group: subscribers of one group share its messages, each group
// gets every message. A subscriber hands its group's messages over one at a
// time, in order.
type PubSub interface {
	Publisher() message.Publisher
	Subscriber(consumerGroup string) (message.Subscriber, error)
}

// ConcurrentPubSub is a PubSub that can also hand a consumer group several
// messages at once, out of order. The event processor asks for it: event
// handlers do not depend on the order of events (the read model applies
// them by product version), and a handler that waits on a round trip per
// event would otherwise fall behind the commands that raise them. Commands
// and inbound external messages keep the ordered Subscriber: two changes of
// one batch's quantity must apply in the order they were sent.
type ConcurrentPubSub interface {
	PubSub
	ConcurrentSubscriber(consumerGroup string) (message.Subscriber, error)
}

// eventSubscriber is the subscriber of an event handler's consumer group:
// concurrent when the broker offers it.
func eventSubscriber(ps PubSub, consumerGroup string) (message.Subscriber, error) {
	if c, ok := ps.(ConcurrentPubSub); ok {
		return c.ConcurrentSubscriber(consumerGroup)
	}
	return ps.Subscriber(consumerGroup)
}
