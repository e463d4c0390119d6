package natsbroker

import (
	"context"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
)

// subscriber is Watermill's JetStream subscriber bound to the durable
// consumer of its group, provisioned before the first subscription to a
// topic. It owns its connection: closing it drains the connection.
type subscriber struct {
	*wmnats.Subscriber
	group       string
	provisioner *provisioner
}

func (s subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := s.provisioner.ensureConsumer(topic, s.group); err != nil {
		return nil, err
	}
	return s.Subscriber.Subscribe(ctx, topic)
}

// SubscribeInitialize provisions the stream of topic and the group's
// consumer on it (Watermill's message.SubscribeInitializer).
func (s subscriber) SubscribeInitialize(topic string) error {
	return s.provisioner.ensureConsumer(topic, s.group)
}
