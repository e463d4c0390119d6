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
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"allocation/adapters/messagebus"
	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

var allocatedTopic = messagebus.EventTopic("Allocated")

// A command that fails, before or during its commit, leaves no trace: no
// product change and no message in any outbox table.
func TestOutboxStoresNothingWhenTheCommandFails(t *testing.T) {
	t.Parallel()
	outboxes := map[string]func(watermill.LoggerAdapter) postgres.OutboxPublisherFactory{
		"sql":       postgres.SQLOutbox,
		"forwarder": postgres.ForwarderOutbox,
	}
	for name, outbox := range outboxes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := newTestDB(t)
			brokerDown := errors.New("broker down")
			failing := func(tx *sql.Tx) (message.Publisher, error) {
				p, err := outbox(watermill.NopLogger{})(tx)
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
				line, _ := domain.NewOrderLine(unique("o"), sku, 1)
				if _, err := product.Allocate(line); err != nil {
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

			if v := productVersion(t, db, sku); v != 1 {
				t.Errorf("version = %d, want 1", v)
			}
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
// with the event's stable id as message UUID.
func TestForwarderOutboxRelaysEventsCommittedBeforeItStarted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newTestDB(t)
	logger := watermill.NopLogger{}
	uow := newUnitOfWork(t, db, postgres.ForwarderOutbox(logger))
	sku, ref, order := unique("RELAYED"), unique("b"), unique("o")
	addBatch(t, uow, ref, sku, 10, nil)
	version := productVersion(t, db, sku)
	correlationID := unique("correlation")

	_, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(app.WithCorrelationID(ctx, correlationID),
		&domain.Allocate{OrderID: order, SKU: sku, Qty: 3})
	if err != nil {
		t.Fatalf("allocating: %v", err)
	}
	if n := queryInt(t, db, fmt.Sprintf(`SELECT count(*) FROM "watermill_%s"`, postgres.OutboxTopic)); n != 1 {
		t.Fatalf("outbox holds %d messages, want 1", n)
	}

	destination := gochannel.NewGoChannel(gochannel.Config{}, logger)
	t.Cleanup(func() { _ = destination.Close() })
	messages, err := destination.Subscribe(ctx, allocatedTopic)
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, db, postgres.RelayDestination{Publisher: destination})

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
	sku, ref, order := unique("DIRECT"), unique("b"), unique("o")
	addBatch(t, uow, ref, sku, 10, nil)
	version := productVersion(t, db, sku)

	subscriber, err := watermillsql.NewSubscriber(db, watermillsql.SubscriberConfig{
		ConsumerGroup:    unique("test"),
		PollInterval:     10 * time.Millisecond,
		SchemaAdapter:    watermillsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter:   watermillsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: true,
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = subscriber.Close() })
	messages, err := subscriber.Subscribe(ctx, allocatedTopic)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(ctx, &domain.Allocate{OrderID: order, SKU: sku, Qty: 4}); err != nil {
		t.Fatalf("allocating: %v", err)
	}

	if len(seenBeforeCommit) != 1 || seenBeforeCommit[0] != 0 {
		t.Errorf("rows visible outside the transaction before commit: %v, want [0]", seenBeforeCommit)
	}
	want := domain.Allocated{OrderID: order, SKU: sku, Qty: 4, BatchRef: ref, Version: version + 1}
	msg := waitForMessage(t, messages, app.EventID(want))
	var got domain.Allocated
	if err := json.Unmarshal(msg.Payload, &got); err != nil || got != want {
		t.Errorf("payload = %s (%v), want %+v", msg.Payload, err, want)
	}
}

// waitForMessage acks messages until the one with the UUID arrives.
func waitForMessage(t *testing.T, messages <-chan *message.Message, uuid string) *message.Message {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case msg, ok := <-messages:
			if !ok {
				t.Fatalf("subscription closed before message %s arrived", uuid)
			}
			msg.Ack()
			if msg.UUID == uuid {
				return msg
			}
		case <-deadline:
			t.Fatalf("message %s did not arrive within %s", uuid, waitTimeout)
		}
	}
}

// outboxMessages counts the messages in every outbox table.
func outboxMessages(t *testing.T, db *sql.DB) int {
	t.Helper()
	total := 0
	for _, topic := range append(postgres.EventTopics(), postgres.OutboxTopic) {
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

// The outbox's backlog age is how long the oldest event not yet relayed has
// waited; readiness fails once it passes its limit, and recovers when the
// relay has caught up.
func TestOutboxBacklogAgeAndReadiness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newTestDB(t)
	if age, err := postgres.OutboxBacklogAge(ctx, db); err != nil || age != 0 {
		t.Fatalf("empty outbox: age %s, err %v; want 0", age, err)
	}
	uow := newUnitOfWork(t, db, postgres.ForwarderOutbox(watermill.NopLogger{}))
	sku := unique("SKU")
	addBatch(t, uow, unique("b"), sku, 10, nil)
	if _, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(ctx, &domain.Allocate{OrderID: unique("o"), SKU: sku, Qty: 1}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE "watermill_allocation.outbox" SET created_at = created_at - interval '1 minute'`)
	age, err := postgres.OutboxBacklogAge(ctx, db)
	if err != nil || age < time.Minute || age > 2*time.Minute {
		t.Fatalf("age %s, err %v; want about a minute", age, err)
	}
	var tooOld postgres.OutboxBacklogTooOldError
	if err := postgres.OutboxReadiness(db, 30*time.Second)(ctx); !errors.As(err, &tooOld) {
		t.Errorf("readiness = %v, want OutboxBacklogTooOldError", err)
	}
	// The relay's acknowledged position moves past the event.
	mustExec(t, db, `INSERT INTO "watermill_offsets_allocation.outbox" (consumer_group, offset_acked, last_processed_transaction_id)
		SELECT 'allocation.outbox', max("offset"), max(transaction_id) FROM "watermill_allocation.outbox"`)
	if err := postgres.OutboxReadiness(db, 30*time.Second)(ctx); err != nil {
		t.Errorf("readiness after the relay caught up = %v", err)
	}
}
