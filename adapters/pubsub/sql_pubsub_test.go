package pubsub

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
)

func newTestSQLPubSub(t *testing.T) *SQLPubSub {
	t.Helper()
	ps, err := NewSQLPubSub(openTestDB(t), SQLConfig{PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return ps
}

// newSQLTopic is a SQL pub/sub and a topic of the test's own on it, whose
// tables are dropped when the test ends.
func newSQLTopic(t *testing.T, name string) (*SQLPubSub, string) {
	t.Helper()
	ps, topic := newTestSQLPubSub(t), uniqueName(name)
	dropSQLTopic(t, ps, topic)
	return ps, topic
}

func dropSQLTopic(t *testing.T, ps *SQLPubSub, topic string) {
	t.Cleanup(func() {
		for _, table := range []string{SQLSchemaAdapter(0).MessagesTable(topic), SQLOffsetsAdapter().MessagesOffsetsTable(topic)} {
			if _, err := ps.db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
				t.Errorf("dropping %s: %v", table, err)
			}
		}
	})
}

func TestSQLPubSubStoresAnEmptyPayload(t *testing.T) {
	t.Parallel()
	ps, topic := newSQLTopic(t, "empty")
	messages := subscribeGroup(t, ps, uniqueName("group"), topic)
	// The poison queue must be able to park whatever it is given.
	if err := ps.Publisher().Publish(topic, message.NewMessage(uuid.NewString(), []byte{})); err != nil {
		t.Fatal(err)
	}
	got := receive(t, messages)
	got.Ack()
	if len(got.Payload) != 0 {
		t.Errorf("payload %q", got.Payload)
	}
}

func TestSQLPubSubConsumerGroups(t *testing.T) {
	t.Parallel()
	ps, topic := newSQLTopic(t, "groups")
	// A second process: its own pool and pub/sub on the same database.
	other := newTestSQLPubSub(t)
	shared, all := uniqueName("shared"), uniqueName("all")

	sharedA, sharedB := subscribeGroup(t, ps, shared, topic), subscribeGroup(t, other, shared, topic)
	allGroup := subscribeGroup(t, ps, all, topic)

	const n = 20
	sent := publishMessages(t, ps.Publisher(), topic, n)

	// All three subscriptions are read at once: on this broker a
	// subscriber left holding a message keeps its transaction open, and
	// that hides every newer message from everyone (see SQLPubSub).
	seen := map[string]int{}
	everything := map[string]bool{}
	for len(seen) < n || len(everything) < n {
		select {
		case msg := <-sharedA:
			seen[msg.UUID]++
			msg.Ack()
		case msg := <-sharedB:
			seen[msg.UUID]++
			msg.Ack()
		case msg := <-allGroup:
			everything[msg.UUID] = true
			msg.Ack()
		case <-time.After(waitTimeout):
			t.Fatalf("group %s got %d, group %s %d of %d messages", shared, len(seen), all, len(everything), n)
		}
	}
	wantEachOnce(t, shared, seen, sent)
	for id := range everything {
		if !sent[id] {
			t.Errorf("group %s got %s, which was not sent", all, id)
		}
	}
}

func TestSQLPubSubNackedMessageIsDeliveredAgain(t *testing.T) {
	t.Parallel()
	ps, topic := newSQLTopic(t, "nack")
	messages := subscribeGroup(t, ps, uniqueName("group"), topic)
	sent := message.NewMessage(uuid.NewString(), []byte(`{}`))
	if err := ps.Publisher().Publish(topic, sent); err != nil {
		t.Fatal(err)
	}
	receive(t, messages).Nack()
	again := receive(t, messages)
	again.Ack()
	if again.UUID != sent.UUID {
		t.Errorf("redelivered %s, want %s", again.UUID, sent.UUID)
	}
}

func TestInitializeSQLTopicIsSafeConcurrently(t *testing.T) {
	t.Parallel()
	ps, topic := newSQLTopic(t, "init")
	// Plain CREATE TABLE IF NOT EXISTS fails here now and then with a
	// unique violation on pg_type; the advisory lock prevents it.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- InitializeSQLTopic(context.Background(), ps.db, topic) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestSQLTopicNames(t *testing.T) {
	tests := []struct {
		topic string
		ok    bool
	}{
		{"allocation.commands.ChangeBatchQuantity", true},
		{"change_batch_quantity", true},
		{"allocation.poison", true},
		{"", false},
		{`bad"name`, false},
		{"with space", false},
		{strings.Repeat("x", 46), false}, // watermill_offsets_ + 46 > 63
		{strings.Repeat("x", 45), true},
	}
	for _, tt := range tests {
		err := checkSQLTopicName(tt.topic)
		var invalid InvalidSQLTopicError
		if tt.ok != (err == nil) || (err != nil && !errors.As(err, &invalid)) {
			t.Errorf("checkSQLTopicName(%q) = %v, want ok=%v", tt.topic, err, tt.ok)
		}
	}
}

func TestSQLPubSubRequiresAConsumerGroup(t *testing.T) {
	ps := newTestSQLPubSub(t)
	_, err := ps.Subscriber("")
	var missing MissingConsumerGroupError
	if !errors.As(err, &missing) {
		t.Errorf("err = %v, want MissingConsumerGroupError", err)
	}
}

// On the SQL broker the W3C trace context is in the metadata column, as
// JSON keys traceparent and tracestate: what an outside producer writes
// there is what the subscriber hands to the tracing middleware.
func TestSQLPubSubKeepsTheTraceContextInTheMetadataColumn(t *testing.T) {
	t.Parallel()
	ps, topic := newSQLTopic(t, "tc")
	messages := subscribeGroup(t, ps, uniqueName("group"), topic)

	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sent := message.NewMessage(uuid.NewString(), []byte(`{"batchref":"b1","qty":5}`))
	sent.Metadata.Set("traceparent", traceparent)
	sent.Metadata.Set("tracestate", "vendor=opaque")
	if err := ps.Publisher().Publish(topic, sent); err != nil {
		t.Fatal(err)
	}
	got := receive(t, messages)
	got.Ack()
	if got.Metadata.Get("traceparent") != traceparent || got.Metadata.Get("tracestate") != "vendor=opaque" {
		t.Errorf("metadata %v", got.Metadata)
	}
	var column, state string
	err := ps.db.QueryRow(`SELECT metadata->>'traceparent', metadata->>'tracestate' FROM `+SQLSchemaAdapter(0).MessagesTable(topic)+` WHERE uuid = $1`, sent.UUID).Scan(&column, &state)
	if err != nil || column != traceparent || state != "vendor=opaque" {
		t.Errorf("metadata column: traceparent %q, tracestate %q, %v", column, state, err)
	}
}
