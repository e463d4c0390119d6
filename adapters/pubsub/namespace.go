package pubsub

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
)

// NamespacedPubSub prefixes every topic, so that several deployments (or
// test runs) can share one broker without seeing each other's messages.
// Handlers and metadata keep the bare topic names.
type NamespacedPubSub struct {
	inner  messagebus.PubSub
	prefix string
}

func NewNamespacedPubSub(inner messagebus.PubSub, prefix string) *NamespacedPubSub {
	return &NamespacedPubSub{inner: inner, prefix: prefix}
}

func (p *NamespacedPubSub) Publisher() message.Publisher {
	return namespacedPublisher{Publisher: p.inner.Publisher(), prefix: p.prefix}
}

func (p *NamespacedPubSub) Subscriber(consumerGroup string) (message.Subscriber, error) {
	sub, err := p.inner.Subscriber(consumerGroup)
	if err != nil {
		return nil, err
	}
	return namespacedSubscriber{Subscriber: sub, prefix: p.prefix}, nil
}

func (p *NamespacedPubSub) ConcurrentSubscriber(consumerGroup string) (message.Subscriber, error) {
	sub, err := p.inner.ConcurrentSubscriber(consumerGroup)
	if err != nil {
		return nil, err
	}
	return namespacedSubscriber{Subscriber: sub, prefix: p.prefix}, nil
}

type namespacedPublisher struct {
	message.Publisher
	prefix string
}

func (p namespacedPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.Publisher.Publish(p.prefix+topic, msgs...)
}

type namespacedSubscriber struct {
	message.Subscriber
	prefix string
}

func (s namespacedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.Subscriber.Subscribe(ctx, s.prefix+topic)
}

// NewNamespacedPublisher prefixes the topics of one publisher, for
// publishers made outside a PubSub (the transactional outbox).
func NewNamespacedPublisher(pub message.Publisher, prefix string) message.Publisher {
	if prefix == "" {
		return pub
	}
	return namespacedPublisher{Publisher: pub, prefix: prefix}
}
