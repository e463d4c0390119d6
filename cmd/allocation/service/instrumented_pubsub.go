package service

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/metrics"
	"allocation/app"
)

// instrumentedPubSub decorates the publisher with Watermill's publisher
// metrics; subscribers are decorated by the router.
type instrumentedPubSub struct {
	app.PubSub
	publisher message.Publisher
}

func newInstrumentedPubSub(ps app.PubSub, m *metrics.Metrics) (app.PubSub, error) {
	pub, err := m.DecoratePublisher(ps.Publisher())
	if err != nil {
		return nil, err
	}
	return instrumentedPubSub{PubSub: ps, publisher: pub}, nil
}

func (p instrumentedPubSub) Publisher() message.Publisher { return p.publisher }
