package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsClient speaks to JetStream as a plain client would: it publishes the
// JSON payload as the body with a correlation_id header, and reads the
// stream of a subject by sequence, from its start, as XRANGE does.
type natsClient struct {
	conn   *nats.Conn
	js     nats.JetStreamContext
	prefix string

	mu    sync.Mutex
	reads map[string]*streamRead
}

// streamRead is what was read of a subject's stream: the stream made at
// created, up to sequence next-1; a stream made again (the server lost
// its store) is read anew.
type streamRead struct {
	created  time.Time
	next     uint64
	messages []outsideMessage
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
	return &natsClient{conn: conn, js: js, prefix: prefix, reads: map[string]*streamRead{}}
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

// received is what the topic's stream holds (nothing before the service
// made the stream).
func (c *natsClient) received(topic string) []outsideMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	subject := c.prefix + topic
	stream, err := c.js.StreamNameBySubject(subject)
	if err != nil {
		return nil
	}
	info, err := c.js.StreamInfo(stream)
	if err != nil {
		return nil
	}
	r := c.reads[topic]
	if r == nil || !r.created.Equal(info.Created) {
		r = &streamRead{created: info.Created, next: 1}
		c.reads[topic] = r
	}
	for ; r.next <= info.State.LastSeq; r.next++ {
		m, err := c.js.GetMsg(stream, r.next)
		if errors.Is(err, nats.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			break
		}
		msg := outsideMessage{ID: m.Header.Get(nats.MsgIdHdr), CorrelationID: m.Header.Get("correlation_id")}
		if json.Unmarshal(m.Data, &msg.Payload) != nil {
			msg.Payload = map[string]any{"_unparsable": string(m.Data)}
		}
		r.messages = append(r.messages, msg)
	}
	return slices.Clone(r.messages)
}

// backlog describes what the namespace's streams still hold for their
// durable consumers ("" when nothing): messages not yet delivered, or
// delivered and not acked; it counts the consumers it looked at.
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
			count++
			if info.NumPending > 0 || info.NumAckPending > 0 {
				backlog = append(backlog, fmt.Sprintf("%s consumer %s: %d undelivered, %d unacked",
					stream, info.Name, info.NumPending, info.NumAckPending))
			}
		}
	}
	return strings.Join(backlog, "; "), count
}
