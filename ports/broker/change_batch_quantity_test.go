package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
	"allocation/contracts"
	"allocation/domain"
	"allocation/ports/broker"
)

// recorder is the command handler: it records what it was called with.
type recorder struct {
	calls         []domain.ChangeBatchQuantity
	correlationID string
	err           error
}

func (r *recorder) handle(ctx context.Context, cmd *domain.ChangeBatchQuantity) error {
	r.calls = append(r.calls, *cmd)
	r.correlationID = app.CorrelationIDFromContext(ctx)
	return r.err
}

func newConsumer(t *testing.T, r *recorder) *broker.ChangeBatchQuantityConsumer {
	t.Helper()
	c, err := broker.NewChangeBatchQuantityConsumer(r.handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChangeBatchQuantityPayloads(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    *domain.ChangeBatchQuantity // nil: rejected for good
		reason  string
	}{
		{"valid", `{"batchref":"b1","qty":5}`, &domain.ChangeBatchQuantity{Ref: "b1", Qty: 5}, ""},
		{"zero empties the batch", `{"batchref":"b1","qty":0}`, &domain.ChangeBatchQuantity{Ref: "b1", Qty: 0}, ""},
		{"integer written as 5.0", `{"batchref":"b1","qty":5.0}`, &domain.ChangeBatchQuantity{Ref: "b1", Qty: 5}, ""},
		{"integer written as 1e2", `{"batchref":"b1","qty":1e2}`, &domain.ChangeBatchQuantity{Ref: "b1", Qty: 100}, ""},
		{"unknown fields ignored", `{"batchref":"b1","qty":5,"extra":true}`, &domain.ChangeBatchQuantity{Ref: "b1", Qty: 5}, ""},
		{"broken JSON", `{"batchref":"b1",`, nil, "not valid JSON"},
		{"not JSON at all", `}{`, nil, "not valid JSON"},
		{"empty payload", ``, nil, "not valid JSON"},
		{"missing batchref", `{"qty":5}`, nil, "missing property 'batchref'"},
		{"missing qty", `{"batchref":"b1"}`, nil, "missing property 'qty'"},
		{"qty a string", `{"batchref":"b1","qty":"5"}`, nil, "/qty: got string, want integer"},
		{"qty a fraction", `{"batchref":"b1","qty":5.5}`, nil, "/qty: got number, want integer"},
		{"batchref a number", `{"batchref":1,"qty":5}`, nil, "/batchref: got number, want string"},
		{"array", `[{"batchref":"b1","qty":5}]`, nil, "got array, want object"},
		{"negative qty", `{"batchref":"b1","qty":-1}`, nil, "/qty: minimum"},
		{"huge qty", `{"batchref":"b1","qty":1e12}`, nil, "/qty: maximum"},
		{"empty batchref", `{"batchref":"","qty":5}`, nil, "/batchref: minLength"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			err := newConsumer(t, r).Handle(message.NewMessage("m1", []byte(tt.payload)))
			if tt.want != nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if len(r.calls) != 1 || withoutSequence(r.calls[0]) != *tt.want || r.calls[0].Sequence == "" {
					t.Errorf("handler called with %+v, want %+v and a sequence", r.calls, *tt.want)
				}
				return
			}
			if len(r.calls) != 0 {
				t.Errorf("handler called with %+v for an invalid payload", r.calls)
			}
			assertRejectedForGood(t, err, tt.reason)
		})
	}
}

func assertRejectedForGood(t *testing.T, err error, reason string) {
	t.Helper()
	if !app.IsPermanent(err) {
		t.Errorf("error %v is not permanent: it would be retried", err)
	}
	var invalid *broker.InvalidMessageError
	if !errors.As(err, &invalid) || invalid.Topic != contracts.ChangeBatchQuantityTopic {
		t.Errorf("error %v is not an InvalidMessageError of %s", err, contracts.ChangeBatchQuantityTopic)
	}
	if err == nil || !strings.Contains(err.Error(), reason) {
		t.Errorf("error %q does not say %q", err, reason)
	}
}

func TestChangeBatchQuantityMarkedMalformedByTheBroker(t *testing.T) {
	r := &recorder{}
	msg := message.NewMessage("m1", []byte(`{"batchref":"b1","qty":5}`))
	msg.Metadata.Set(contracts.MalformedReasonKey, `malformed redis stream entry: entry has no "payload" field`)
	err := newConsumer(t, r).Handle(msg)
	if len(r.calls) != 0 {
		t.Errorf("handler called for a malformed message")
	}
	assertRejectedForGood(t, err, `entry has no "payload" field`)
}

func TestChangeBatchQuantityPassesOnTheHandlersError(t *testing.T) {
	transient := errors.New("database away")
	for _, tt := range []struct {
		err       error
		permanent bool
	}{
		{domain.BatchNotFoundError{Ref: "b1"}, true},
		{transient, false},
	} {
		r := &recorder{err: tt.err}
		err := newConsumer(t, r).Handle(message.NewMessage("m1", []byte(`{"batchref":"b1","qty":5}`)))
		if !errors.Is(err, tt.err) || app.IsPermanent(err) != tt.permanent {
			t.Errorf("handler error %v came back as %v (permanent %v)", tt.err, err, app.IsPermanent(err))
		}
	}
}

func TestChangeBatchQuantityRunsWithTheMessagesCorrelationID(t *testing.T) {
	r := &recorder{}
	c := newConsumer(t, r)
	msg := message.NewMessage("m1", []byte(`{"batchref":"b1","qty":5}`))
	middleware.SetCorrelationID("corr-in", msg)
	if err := c.Handle(msg); err != nil {
		t.Fatal(err)
	}
	if r.correlationID != "corr-in" {
		t.Errorf("handler ran with correlation id %q, want corr-in", r.correlationID)
	}

	// Outside clients need not send one: the message UUID stands in, and
	// is written on the message so that a parked copy carries it.
	bare := message.NewMessage("uuid-of-entry", []byte(`{"batchref":"b1","qty":5}`))
	if err := c.Handle(bare); err != nil {
		t.Fatal(err)
	}
	if r.correlationID != "uuid-of-entry" || middleware.MessageCorrelationID(bare) != "uuid-of-entry" {
		t.Errorf("correlation id %q, on the message %q, want the UUID", r.correlationID, middleware.MessageCorrelationID(bare))
	}
	// One sent longer than app.MaxCorrelationIDBytes is cut, on the
	// message too.
	long := message.NewMessage("m2", []byte(`{"batchref":"b1","qty":5}`))
	middleware.SetCorrelationID(strings.Repeat("c", 5<<20), long)
	if err := c.Handle(long); err != nil {
		t.Fatal(err)
	}
	if len(r.correlationID) != app.MaxCorrelationIDBytes || middleware.MessageCorrelationID(long) != r.correlationID {
		t.Errorf("a 5 MB correlation id became %d bytes (%d on the message)", len(r.correlationID), len(middleware.MessageCorrelationID(long)))
	}
}

// withoutSequence is the command without its place in the order of changes,
// which depends on when or where the message was read.
func withoutSequence(cmd domain.ChangeBatchQuantity) domain.ChangeBatchQuantity {
	cmd.Sequence = ""
	return cmd
}

// A change's place in the order of changes is its Redis entry id when it
// has one, kept in the metadata on first receipt, and what a parked copy
// carries is used again when it is replayed.
func TestChangeSequenceComesFromTheEntryAndIsKept(t *testing.T) {
	r := &recorder{}
	c := newConsumer(t, r)
	fromRedis := message.NewMessage("m1", []byte(`{"batchref":"b1","qty":5}`))
	fromRedis.Metadata.Set(contracts.BrokerOrderKey, "1700000000000-7")
	if err := c.Handle(fromRedis); err != nil {
		t.Fatal(err)
	}
	want := "00000001700000000000-00000000000000000007"
	if r.calls[0].Sequence != want || fromRedis.Metadata.Get(broker.ChangeSequenceKey) != want {
		t.Errorf("sequence %q, metadata %q, want %q", r.calls[0].Sequence, fromRedis.Metadata.Get(broker.ChangeSequenceKey), want)
	}
	replayed := message.NewMessage("m1", []byte(`{"batchref":"b1","qty":5}`))
	replayed.Metadata.Set(broker.ChangeSequenceKey, want)
	replayed.Metadata.Set(contracts.BrokerOrderKey, "1800000000000-0") // its new entry
	if err := c.Handle(replayed); err != nil {
		t.Fatal(err)
	}
	if r.calls[1].Sequence != want {
		t.Errorf("replayed sequence %q, want the original %q", r.calls[1].Sequence, want)
	}
}

// A stale change is dropped, not parked: the newer change stands, and
// there is nothing to retry or replay.
func TestAStaleChangeIsAcknowledged(t *testing.T) {
	r := &recorder{err: domain.StaleChangeError{Ref: "b1", Sequence: "1", Applied: "2"}}
	if err := newConsumer(t, r).Handle(message.NewMessage("m1", []byte(`{"batchref":"b1","qty":5}`))); err != nil {
		t.Errorf("err = %v, want the stale change acknowledged", err)
	}
}
