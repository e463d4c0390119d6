package natsbroker

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Integration tests run against a real nats-server with JetStream and
// fail when it is unreachable, unless SKIP_INTEGRATION=1.

const waitTimeout = 15 * time.Second

func requireIntegration(t *testing.T) {
	t.Helper()
	if os.Getenv("SKIP_INTEGRATION") == "1" {
		t.Skip("SKIP_INTEGRATION=1")
	}
}

func testNATSURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// newTestPubSub connects to url (the shared server when "") and deletes
// the streams of topics under prefix when the test ends.
func newTestPubSub(t *testing.T, cfg Config, prefix string) *PubSub {
	t.Helper()
	requireIntegration(t)
	if cfg.URL == "" {
		cfg.URL = testNATSURL()
	}
	ps, err := NewPubSub(cfg)
	if err != nil {
		t.Fatalf("nats at %s unreachable (set SKIP_INTEGRATION=1 to skip): %v", cfg.URL, err)
	}
	t.Cleanup(func() {
		deleteStreams(t, ps.Conn(), prefix)
		_ = ps.Close()
	})
	return ps
}

// deleteStreams deletes the streams of the topics under prefix.
func deleteStreams(t *testing.T, conn *nats.Conn, prefix string) {
	t.Helper()
	js, err := conn.JetStream()
	if err != nil {
		t.Log(err)
		return
	}
	namePrefix := strings.TrimSuffix(StreamName(prefix), StreamName("")[1:])
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, namePrefix) {
			_ = js.DeleteStream(name)
		}
	}
}

// uniquePrefix is a topic prefix no other test run uses.
func uniquePrefix(name string) string {
	return name + "_" + strings.ToLower(watermill.NewShortUUID()) + "."
}

// prefixed publishes to and subscribes on prefix+topic, as the service's
// namespace (TOPIC_PREFIX) does.
type prefixedPublisher struct {
	message.Publisher
	prefix string
}

func (p prefixedPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.Publisher.Publish(p.prefix+topic, msgs...)
}

type prefixedSubscriber struct {
	message.Subscriber
	prefix string
}

func (s prefixedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.Subscriber.Subscribe(ctx, s.prefix+topic)
}

func subscribe(t *testing.T, s message.Subscriber, topic string) <-chan *message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	t.Cleanup(func() { _ = s.Close() })
	ch, err := s.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// receive waits for the next message, failing the test at the deadline.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return msg
	case <-time.After(waitTimeout):
		t.Fatal("no message within", waitTimeout)
		return nil
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within %s", what, waitTimeout)
		case <-tick.C:
		}
	}
}
