package pubsub

// MissingConsumerGroupError is returned for a subscriber without a consumer
// group: every subscriber of messagebus.PubSub belongs to one, and the brokers'
// group-less modes lose what is published while nobody listens.
type MissingConsumerGroupError struct{}

func (MissingConsumerGroupError) Error() string {
	return "pub/sub: a subscriber needs a consumer group"
}

// ClosedError is returned for a subscriber asked of a closed pub/sub.
type ClosedError struct{}

func (ClosedError) Error() string { return "pub/sub: closed" }
