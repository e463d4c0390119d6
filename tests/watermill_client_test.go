package tests

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/tests/testenv"
)

// watermillClient reads and writes through a Watermill pub/sub.
type watermillClient struct {
	t         *testing.T
	publisher message.Publisher
	subscribe func(group string) (message.Subscriber, error)
	mu        sync.Mutex
	topics    map[string][]outsideMessage
}

func newWatermillClient(t *testing.T, pub message.Publisher, subscribe func(string) (message.Subscriber, error)) *watermillClient {
	return &watermillClient{t: t, publisher: pub, subscribe: subscribe, topics: map[string][]outsideMessage{}}
}

func (c *watermillClient) publish(t *testing.T, topic, payload, correlationID string) {
	t.Helper()
	msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
	if correlationID != "" {
		middleware.SetCorrelationID(correlationID, msg)
	}
	if err := c.publisher.Publish(topic, msg); err != nil {
		t.Fatal(err)
	}
}

// listen starts collecting a topic; call before the messages are sent.
func (c *watermillClient) listen(topic string) {
	sub, err := c.subscribe("e2e-observer")
	if err != nil {
		c.t.Fatal(err)
	}
	msgs := testenv.Subscribe(c.t, sub, topic)
	go func() {
		for m := range msgs {
			om := outsideMessage{ID: m.UUID, CorrelationID: middleware.MessageCorrelationID(m)}
			if json.Unmarshal(m.Payload, &om.Payload) != nil {
				om.Payload = map[string]any{"_unparsable": string(m.Payload)}
			}
			c.mu.Lock()
			c.topics[topic] = append(c.topics[topic], om)
			c.mu.Unlock()
			m.Ack()
		}
	}()
}

func (c *watermillClient) received(topic string) []outsideMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]outsideMessage(nil), c.topics[topic]...)
}
