package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/adapters/internal/sqltopics"
	"allocation/adapters/messagebus"
	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
	"allocation/tests/testenv"
)

var allocatedTopic = messagebus.EventTopic("Allocated")

// A command that fails, before or during its commit, leaves no trace: no
// product change and no message in any outbox table.
func TestOutboxStoresNothingWhenTheCommandFails(t *testing.T) {
	t.Parallel()
	for name, outbox := range map[string]postgres.OutboxPublisherFactory{
		"sql":     postgres.SQLOutbox(watermill.NopLogger{}),
		"relayed": postgres.RelayedOutbox,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := newTestDB(t)
			brokerDown := errors.New("broker down")
			failing := func(tx *sql.Tx) (message.Publisher, error) {
				p, err := outbox(tx)
				return publisherFailingAfterWrite{Publisher: p, err: brokerDown}, err
			}
			uow := newUnitOfWork(t, db, failing)
			sku := unique("FAIL")
			addBatch(t, uow, unique("b"), sku, 10, nil)
			runner := app.NewTransactionRunner(uow, app.ConflictRetryPolicy{}, nil)

			handlerFailed := errors.New("handler failed")
			err := runner.Run(ctx, func(ctx context.Context, tx app.Transaction) error {
				product, err := tx.Products().Get(ctx, sku)
				if err != nil {
					return err
				}
				if err := allocateLine(product, unique("o"), 1); err != nil {
					return err
				}
				return handlerFailed
			})
			if !errors.Is(err, handlerFailed) {
				t.Fatalf("handler err = %v, want %v", err, handlerFailed)
			}

			_, err = app.NewAllocateHandler(app.NewProductQueue(runner)).Handle(ctx, &domain.Allocate{OrderID: unique("o"), SKU: sku, Qty: 1})
			if !errors.Is(err, brokerDown) {
				t.Fatalf("commit err = %v, want %v", err, brokerDown)
			}

			wantVersion(t, db, sku, 1)
			if n := queryInt(t, db, `SELECT count(*) FROM allocations WHERE sku = $1`, sku); n != 0 {
				t.Errorf("%d allocations stored, want none", n)
			}
			if n := outboxMessages(t, db); n != 0 {
				t.Errorf("%d messages stored, want none", n)
			}
		})
	}
}

// The outbox relay delivers what was committed while it was not running,
// with the event's stable id as message UUID and its metadata.
func TestOutboxRelayRelaysEventsCommittedBeforeItStarted(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	uow := newUnitOfWork(t, db, postgres.RelayedOutbox)
	sku, ref, order := unique("RELAYED"), unique("b"), unique("o")
	addBatch(t, uow, ref, sku, 10, nil)
	version := productVersion(t, db, sku)
	correlationID := unique("correlation")

	_, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(app.WithCorrelationID(context.Background(), correlationID),
		&domain.Allocate{OrderID: order, SKU: sku, Qty: 3})
	if err != nil {
		t.Fatalf("allocating: %v", err)
	}
	if n := outboxMessages(t, db); n != 1 {
		t.Fatalf("outbox holds %d messages, want 1", n)
	}

	destination, messages := newDestination(t)
	runRelay(t, db, postgres.RelayDestination{Publisher: destination}, postgres.RelayPolling{})

	want := domain.Allocated{OrderID: order, SKU: sku, Qty: 3, BatchRef: ref, Version: version + 1}
	msg := waitForMessage(t, messages, app.EventID(want))
	var got domain.Allocated
	if err := json.Unmarshal(msg.Payload, &got); err != nil || got != want {
		t.Errorf("payload = %s (%v), want %+v", msg.Payload, err, want)
	}
	if id := middleware.MessageCorrelationID(msg); id != correlationID {
		t.Errorf("correlation id = %q, want %q", id, correlationID)
	}
}

// With BROKER=sql the events go straight to their topic tables, where no
// one sees them before the command's transaction commits.
func TestSQLOutboxEventsAppearOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newTestDB(t)
	logger := watermill.NopLogger{}
	var seenBeforeCommit []int
	observed := func(tx *sql.Tx) (message.Publisher, error) {
		p, err := postgres.SQLOutbox(logger)(tx)
		return publisherObservingWrites{Publisher: p, afterWrite: func(topic string, msgs []*message.Message) {
			for _, m := range msgs {
				seenBeforeCommit = append(seenBeforeCommit, queryInt(t, db,
					fmt.Sprintf(`SELECT count(*) FROM "watermill_%s" WHERE uuid = $1`, topic), m.UUID))
			}
		}}, err
	}
	uow := newUnitOfWork(t, db, observed)
	ref, sku := unique("b"), unique("DIRECT")
	addBatch(t, uow, ref, sku, 10, nil)

	subscriber, err := watermillsql.NewSubscriber(db, watermillsql.SubscriberConfig{
		ConsumerGroup:  unique("test"),
		PollInterval:   10 * time.Millisecond,
		SchemaAdapter:  watermillsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: watermillsql.DefaultPostgreSQLOffsetsAdapter{},
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = subscriber.Close() })
	messages, err := subscriber.Subscribe(ctx, allocatedTopic)
	if err != nil {
		t.Fatal(err)
	}

	want := allocate(t, db, uow, ref, sku, 4)

	if len(seenBeforeCommit) != 1 || seenBeforeCommit[0] != 0 {
		t.Errorf("rows visible outside the transaction before commit: %v, want [0]", seenBeforeCommit)
	}
	msg := waitForMessage(t, messages, app.EventID(want))
	var got domain.Allocated
	if err := json.Unmarshal(msg.Payload, &got); err != nil || got != want {
		t.Errorf("payload = %s (%v), want %+v", msg.Payload, err, want)
	}
}

// The outbox's backlog age is how long its oldest event has waited;
// readiness fails once it passes its limit, and recovers when the relay
// has caught up.
func TestOutboxBacklogAgeAndReadiness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newTestDB(t)
	if age, err := postgres.OutboxBacklogAge(ctx, db); err != nil || age != 0 {
		t.Fatalf("empty outbox: age %s, err %v; want 0", age, err)
	}
	uow := newUnitOfWork(t, db, postgres.RelayedOutbox)
	ref, sku := unique("b"), unique("SKU")
	addBatch(t, uow, ref, sku, 10, nil)
	allocate(t, db, uow, ref, sku, 1)
	mustExec(t, db, `UPDATE outbox SET created_at = created_at - interval '1 minute'`)
	age, err := postgres.OutboxBacklogAge(ctx, db)
	if err != nil || age < time.Minute || age > 2*time.Minute {
		t.Fatalf("age %s, err %v; want about a minute", age, err)
	}
	var tooOld postgres.OutboxBacklogTooOldError
	if err := postgres.OutboxReadiness(db, 30*time.Second)(ctx); !errors.As(err, &tooOld) {
		t.Errorf("readiness = %v, want OutboxBacklogTooOldError", err)
	}

	destination, _ := newDestination(t)
	runRelay(t, db, postgres.RelayDestination{Publisher: destination}, postgres.RelayPolling{})
	testenv.Eventually(t, waitTimeout, "readiness after the relay caught up", func() bool { return postgres.OutboxReadiness(db, 30*time.Second)(ctx) == nil })
}

// Migrating moves the events that the Watermill forwarder of earlier
// versions had not relayed into the outbox, out of their envelope, and
// leaves those it had relayed.
func TestMigrationMovesTheEventsTheForwarderHadNotRelayed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newEmptySchema(t)
	const forwarderTopic = "allocation.outbox"
	if err := sqltopics.Create(ctx, db, forwarderTopic); err != nil {
		t.Fatal(err)
	}
	tablePublisher, err := watermillsql.NewPublisher(db, watermillsql.PublisherConfig{SchemaAdapter: watermillsql.DefaultPostgreSQLSchema{}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	enveloping := forwarder.NewPublisher(tablePublisher, forwarder.PublisherConfig{ForwarderTopic: forwarderTopic})
	relayed, pending := message.NewMessage(unique("relayed"), []byte(`{"n":1}`)), message.NewMessage(unique("pending"), []byte(`{"n":2}`))
	pending.Metadata.Set("traceparent", "00-abc-def-01")
	for _, m := range []*message.Message{relayed, pending} {
		if err := enveloping.Publish(allocatedTopic, m); err != nil {
			t.Fatal(err)
		}
	}
	// The forwarder's consumer group had acknowledged the first event.
	mustExec(t, db, `INSERT INTO "watermill_offsets_allocation.outbox" (consumer_group, offset_acked, last_processed_transaction_id)
		SELECT 'allocation.outbox', "offset", transaction_id FROM "watermill_allocation.outbox" ORDER BY "offset" LIMIT 1`)

	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM outbox`); n != 1 {
		t.Fatalf("outbox holds %d events, want the 1 not relayed", n)
	}
	destination, messages := newDestination(t)
	runRelay(t, db, postgres.RelayDestination{Publisher: destination}, postgres.RelayPolling{})
	got := waitForMessage(t, messages, pending.UUID)
	if string(got.Payload) != `{"n":2}` || got.Metadata.Get("traceparent") != "00-abc-def-01" {
		t.Errorf("relayed payload %s, metadata %v; want %s, %v", got.Payload, got.Metadata, pending.Payload, pending.Metadata)
	}
}

// receive takes the next message and acks it.
func receive(t *testing.T, messages <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-messages:
		if !ok {
			t.Fatal("subscription closed")
		}
		msg.Ack()
		return msg
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %s", waitTimeout)
		return nil
	}
}

// waitForMessage receives messages until the one with the UUID arrives.
func waitForMessage(t *testing.T, messages <-chan *message.Message, uuid string) *message.Message {
	t.Helper()
	for {
		if msg := receive(t, messages); msg.UUID == uuid {
			return msg
		}
	}
}

// outboxMessages counts the events in the outbox and the SQL outbox's
// topic tables.
func outboxMessages(t *testing.T, db *sql.DB) int {
	t.Helper()
	total := queryInt(t, db, `SELECT count(*) FROM outbox`)
	for _, topic := range postgres.EventTopics() {
		total += queryInt(t, db, fmt.Sprintf(`SELECT count(*) FROM "watermill_%s"`, topic))
	}
	return total
}

// publisherFailingAfterWrite writes through and then fails, like a
// connection lost after the INSERT: the transaction must not keep the row.
type publisherFailingAfterWrite struct {
	message.Publisher
	err error
}

func (p publisherFailingAfterWrite) Publish(topic string, msgs ...*message.Message) error {
	return errors.Join(p.Publisher.Publish(topic, msgs...), p.err)
}

type publisherObservingWrites struct {
	message.Publisher
	afterWrite func(topic string, msgs []*message.Message)
}

func (p publisherObservingWrites) Publish(topic string, msgs ...*message.Message) error {
	if err := p.Publisher.Publish(topic, msgs...); err != nil {
		return err
	}
	p.afterWrite(topic, msgs)
	return nil
}
