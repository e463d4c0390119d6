package natsbroker

import (
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"allocation/tests/testenv"
)

// Integration tests run against a real nats-server with JetStream and
// fail when it is unreachable, unless SKIP_INTEGRATION=1.

const waitTimeout = 15 * time.Second

func testNATSURL() string { return testenv.BaseNATSURL() }

// newTestPubSub connects to cfg.URL (the shared server when empty) and
// deletes the streams of the topics under prefix when the test ends.
func newTestPubSub(t *testing.T, cfg Config, prefix string) *PubSub {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = testenv.NATSURL(t)
	}
	ps, err := NewPubSub(cfg)
	if err != nil {
		t.Fatalf("nats at %s unreachable (run scripts/ensure-services.sh, or set SKIP_INTEGRATION=1): %v", cfg.URL, err)
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
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, safeName(prefix)) {
			_ = js.DeleteStream(name)
		}
	}
}

// receive waits for the next message of a subscription.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	return testenv.Receive(t, ch, waitTimeout)
}

// subscribe subscribes until the test ends, then closes the subscriber.
func subscribe(t *testing.T, s message.Subscriber, topic string) <-chan *message.Message {
	t.Helper()
	t.Cleanup(func() { _ = s.Close() })
	return testenv.Subscribe(t, s, topic)
}
