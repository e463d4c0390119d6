package natsbroker

import (
	"errors"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// publisher is Watermill's JetStream publisher on streams provisioned
// before the first publish of a topic; each publish waits for JetStream's
// acknowledgement and carries the message UUID in its Nats-Msg-Id.
type publisher struct {
	inner       *wmnats.Publisher
	provisioner *provisioner
}

func (p publisher) Publish(topic string, msgs ...*message.Message) error {
	if err := p.provisioner.ensureStream(topic); err != nil {
		return err
	}
	err := p.inner.Publish(topic, msgs...)
	if errors.Is(err, nats.ErrNoStreamResponse) {
		// The server lost the stream: provisioned again, the messages are
		// sent again, and the duplicate window drops those already stored.
		p.provisioner.forgetStream(topic)
		if err := p.provisioner.ensureStream(topic); err != nil {
			return err
		}
		err = p.inner.Publish(topic, msgs...)
	}
	return err
}

// Close leaves the connection to the PubSub, which owns it.
func (publisher) Close() error { return nil }
