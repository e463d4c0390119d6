package app

import "github.com/ThreeDotsLabs/watermill/message"

// PubSub is the broker chosen by configuration. Every subscriber belongs to
// a consumer group: subscribers of one group share its messages, each group
// gets every message.
type PubSub interface {
	Publisher() message.Publisher
	Subscriber(consumerGroup string) (message.Subscriber, error)
}
