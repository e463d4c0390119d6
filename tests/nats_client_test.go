package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
)

// natsClient speaks to JetStream as a plain client would: it publishes the
// JSON payload as the body with a correlation_id header, and reads a
// subject's stream from its start through an ordered consumer.
type natsClient struct {
	conn   *nats.Conn
	js     nats.JetStreamContext
	prefix string

	mu       sync.Mutex
	reading  map[string]bool
	messages map[string][]outsideMessage
}

func newNATSClient(t *testing.T, url, prefix string) *natsClient {
	t.Helper()
	conn, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := conn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	return &natsClient{conn: conn, js: js, prefix: prefix, reading: map[string]bool{}, messages: map[string][]outsideMessage{}}
}

func (c *natsClient) publish(t *testing.T, topic, payload, correlationID string) {
	t.Helper()
	msg := nats.NewMsg(c.prefix + topic)
	msg.Data = []byte(payload)
	if correlationID != "" {
		msg.Header.Set("correlation_id", correlationID)
	}
	if _, err := c.js.PublishMsg(msg); err != nil {
		t.Fatalf("publishing to %s: %v", msg.Subject, err)
	}
}

// received is what the topic's stream has held so far; it starts reading
// the stream the first time it is asked, once the service has made it.
func (c *natsClient) received(topic string) []outsideMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reading[topic] {
		_, err := c.js.Subscribe(c.prefix+topic, func(m *nats.Msg) { c.add(topic, m) }, nats.OrderedConsumer(), nats.DeliverAll())
		c.reading[topic] = err == nil
	}
	return append([]outsideMessage(nil), c.messages[topic]...)
}

func (c *natsClient) add(topic string, m *nats.Msg) {
	msg := outsideMessage{ID: m.Header.Get(nats.MsgIdHdr), CorrelationID: m.Header.Get("correlation_id")}
	if json.Unmarshal(m.Data, &msg.Payload) != nil {
		msg.Payload = map[string]any{"_unparsable": string(m.Data)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages[topic] = append(c.messages[topic], msg)
}

// backlog describes what the namespace's streams still hold for their
// durable consumers ("" when nothing): messages not yet delivered, or
// delivered and not acked; it counts the consumers it looked at (the
// ordered consumers of received are not the service's).
func (c *natsClient) backlog(t *testing.T) (string, int) {
	t.Helper()
	var (
		backlog []string
		count   int
	)
	namePrefix := strings.ReplaceAll(c.prefix, ".", "-")
	for stream := range c.js.StreamNames() {
		if !strings.HasPrefix(stream, namePrefix) {
			continue
		}
		for info := range c.js.ConsumersInfo(stream) {
			if info.Config.Durable == "" {
				continue
			}
			count++
			if info.NumPending > 0 || info.NumAckPending > 0 {
				backlog = append(backlog, fmt.Sprintf("%s consumer %s: %d undelivered, %d unacked",
					stream, info.Name, info.NumPending, info.NumAckPending))
			}
		}
	}
	return strings.Join(backlog, "; "), count
}
