package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// PipelinedPublisher publishes without waiting for each acknowledgement,
// and Flush waits for all of them: one round trip per batch of the outbox
// relay (postgres.RelayDestination) instead of one per event. Messages of
// one connection are stored in the order sent.
type PipelinedPublisher struct {
	js          nats.JetStreamContext
	provisioner *provisioner
	prefix      string

	mu      sync.Mutex
	pending []nats.PubAckFuture
}

// PipelinedPublisher publishes on the PubSub's connection to prefix+topic
// (TOPIC_PREFIX; "" for none).
func (p *PubSub) PipelinedPublisher(topicPrefix string) (*PipelinedPublisher, error) {
	js, err := p.conn.JetStream()
	if err != nil {
		return nil, err
	}
	return &PipelinedPublisher{js: js, provisioner: p.provisioner, prefix: topicPrefix}, nil
}

// Publish sends msgs; only Flush tells whether JetStream stored them.
func (pp *PipelinedPublisher) Publish(topic string, msgs ...*message.Message) error {
	topic = pp.prefix + topic
	if err := pp.provisioner.ensureStream(topic); err != nil {
		return err
	}
	for _, msg := range msgs {
		m, err := marshaler{}.Marshal(topic, msg)
		if err != nil {
			return err
		}
		future, err := pp.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("publishing to %s: %w", topic, err)
		}
		pp.mu.Lock()
		pp.pending = append(pp.pending, future)
		pp.mu.Unlock()
	}
	return nil
}

// Flush waits for the acknowledgement of everything published since the
// last Flush. On an error the caller publishes the batch again: what was
// stored already is dropped as a duplicate.
func (pp *PipelinedPublisher) Flush(ctx context.Context) error {
	pp.mu.Lock()
	pending := pp.pending
	pp.pending = nil
	pp.mu.Unlock()
	var errs []error
	for _, future := range pending {
		select {
		case <-future.Ok():
		case err := <-future.Err():
			if errors.Is(err, nats.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
				// The server lost the stream: provisioned again by the retry.
				pp.provisioner.forgetStream(future.Msg().Subject)
			}
			errs = append(errs, fmt.Errorf("publishing to %s: %w", future.Msg().Subject, err))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// Close leaves the connection to the PubSub, which owns it.
func (*PipelinedPublisher) Close() error { return nil }
