package external_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/adapters/external"
	"allocation/app"
	"allocation/contracts"
	"allocation/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

var goldenLineAllocated = filepath.Join("..", "..", "contracts", "testdata", "line_allocated.v1.golden.json")

// capture is a publisher that keeps what it is given.
type capture struct {
	mu   sync.Mutex
	sent map[string][]*message.Message
}

func (c *capture) Publish(topic string, msgs ...*message.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent == nil {
		c.sent = map[string][]*message.Message{}
	}
	c.sent[topic] = append(c.sent[topic], msgs...)
	return nil
}

func (c *capture) Close() error { return nil }

func publishOne(t *testing.T, ctx context.Context, e domain.Allocated) *message.Message {
	t.Helper()
	c := &capture{}
	p, err := external.NewLineAllocatedPublisher(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PublishLineAllocated(ctx, e); err != nil {
		t.Fatal(err)
	}
	if len(c.sent) != 1 || len(c.sent[contracts.LineAllocatedTopic]) != 1 {
		t.Fatalf("published %v, want one message on %s", c.sent, contracts.LineAllocatedTopic)
	}
	return c.sent[contracts.LineAllocatedTopic][0]
}

var allocated = domain.Allocated{OrderID: "o1", SKU: "LAMP", Qty: 10, BatchRef: "b1", Version: 7}

func TestLineAllocatedPayloadMatchesTheGoldenFile(t *testing.T) {
	msg := publishOne(t, app.WithCorrelationID(context.Background(), "corr-1"), allocated)
	got := append(append([]byte(nil), msg.Payload...), '\n')
	if *update {
		if err := os.WriteFile(goldenLineAllocated, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenLineAllocated)
	if err != nil {
		t.Fatalf("%v (run go test ./adapters/external -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload changed; a contract change needs a new version.\n got: %s\nwant: %s", got, want)
	}

	v, err := contracts.NewValidator(contracts.LineAllocatedV1)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(msg.Payload); err != nil {
		t.Errorf("payload breaks its own schema: %v", err)
	}
	if strings.Contains(string(msg.Payload), "version") {
		t.Errorf("internal field leaked: %s", msg.Payload)
	}
}

func TestLineAllocatedMessageIdentity(t *testing.T) {
	msg := publishOne(t, app.WithCorrelationID(context.Background(), "corr-1"), allocated)
	if msg.UUID != app.EventID(allocated) {
		t.Errorf("UUID %s, want the stable event id %s", msg.UUID, app.EventID(allocated))
	}
	if again := publishOne(t, context.Background(), allocated); again.UUID != msg.UUID {
		t.Errorf("the same fact published twice got UUIDs %s and %s", msg.UUID, again.UUID)
	}
	if got := middleware.MessageCorrelationID(msg); got != "corr-1" {
		t.Errorf("correlation id %q, want corr-1", got)
	}
	if got := msg.Metadata.Get(contracts.ContractKey); got != string(contracts.LineAllocatedV1) {
		t.Errorf("contract %q", got)
	}
}

func TestLineAllocatedTakesTheCorrelationIDOfTheEventBeingHandled(t *testing.T) {
	// Inside an event handler the id comes from the message being handled.
	event := message.NewMessage("e1", nil)
	middleware.SetCorrelationID("corr-from-event", event)
	ctx := cqrs.CtxWithOriginalMessage(context.Background(), event)
	if got := middleware.MessageCorrelationID(publishOne(t, ctx, allocated)); got != "corr-from-event" {
		t.Errorf("correlation id %q, want corr-from-event", got)
	}
}

func TestLineAllocatedAlwaysHasACorrelationID(t *testing.T) {
	if got := middleware.MessageCorrelationID(publishOne(t, context.Background(), allocated)); got == "" {
		t.Error("no correlation id")
	}
}
