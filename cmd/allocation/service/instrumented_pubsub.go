package service

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
	"allocation/adapters/metrics"
)

// instrumentedPubSub decorates the publisher with Watermill's publisher
// metrics; subscribers are decorated by the router.
type instrumentedPubSub struct {
	messagebus.PubSub
	publisher message.Publisher
}

func newInstrumentedPubSub(ps messagebus.PubSub, m *metrics.Metrics) (messagebus.PubSub, error) {
	pub, err := m.DecoratePublisher(ps.Publisher())
	if err != nil {
		return nil, err
	}
	return instrumentedPubSub{PubSub: ps, publisher: pub}, nil
}

func (p instrumentedPubSub) Publisher() message.Publisher { return p.publisher }
