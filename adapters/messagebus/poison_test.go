package messagebus

import (
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
)

// A parking reason quoting megabytes of input is cut before it is parked.
func TestParkingReasonsAreBounded(t *testing.T) {
	pub := &capturePublisher{}
	p := &poisonCounter{publisher: pub}
	msg := message.NewMessage("m", nil)
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, "Unknown batch "+strings.Repeat("r", 5<<20))
	if err := p.Publish(PoisonTopic, msg); err != nil {
		t.Fatal(err)
	}
	reason := pub.msgs[0].Metadata.Get(middleware.ReasonForPoisonedKey)
	if len(reason) > app.MaxPoisonReasonBytes+64 || !strings.HasPrefix(reason, "Unknown batch rrr") || !strings.Contains(reason, "more bytes)") {
		t.Fatalf("reason of %d bytes: %.100q", len(reason), reason)
	}
}

type capturePublisher struct{ msgs []*message.Message }

func (c *capturePublisher) Publish(_ string, msgs ...*message.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *capturePublisher) Close() error { return nil }
