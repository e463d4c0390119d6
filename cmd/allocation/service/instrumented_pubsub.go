package service

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
)

// instrumentedPubSub publishes through a traced, counted publisher;
// subscribers are traced and counted by the router's middleware.
type instrumentedPubSub struct {
	messagebus.PubSub
	publisher message.Publisher
}

func (p instrumentedPubSub) Publisher() message.Publisher { return p.publisher }

// instrumentPubSub traces and counts what ps publishes.
func (d brokerDeps) instrumentPubSub(ps messagebus.PubSub) (messagebus.PubSub, error) {
	pub, err := d.instrument(ps.Publisher())
	if err != nil {
		return nil, err
	}
	return instrumentedPubSub{PubSub: ps, publisher: pub}, nil
}
