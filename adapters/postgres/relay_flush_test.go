package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

// queueingDestination queues what is published and completes it on Flush,
// like pubsub.RedisPipelinedPublisher; its first flushes fail.
type queueingDestination struct {
	mu          sync.Mutex
	failFlushes int
	flushes     int
	published   map[string]int // times each UUID was given to Publish
	queued      []string
	flushed     []string
}

func (d *queueingDestination) Publish(_ string, msgs ...*message.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range msgs {
		d.published[m.UUID]++
		d.queued = append(d.queued, m.UUID)
	}
	return nil
}

func (d *queueingDestination) Flush(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushes++
	queued := d.queued
	d.queued = nil
	if d.failFlushes > 0 {
		d.failFlushes--
		return errors.New("redis is away")
	}
	d.flushed = append(d.flushed, queued...)
	return nil
}

func (d *queueingDestination) Close() error { return nil }

// state is what was flushed, how many flushes there were, and how often
// the message uuid was published.
func (d *queueingDestination) state(uuid string) (flushed []string, flushes, published int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.flushed...), d.flushes, d.published[uuid]
}

// A batch counts as relayed only once the destination's Flush succeeded:
// until then its offset stays and it is published again.
func TestOutboxRelayRecordsABatchOnlyAfterTheDestinationFlushed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newTestDB(t)
	logger := watermill.NopLogger{}
	uow := newUnitOfWork(t, db, postgres.ForwarderOutbox(logger))
	sku, ref, order := unique("FLUSHED"), unique("b"), unique("o")
	addBatch(t, uow, ref, sku, 10, nil)
	version := productVersion(t, db, sku)
	if _, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(ctx, &domain.Allocate{OrderID: order, SKU: sku, Qty: 3}); err != nil {
		t.Fatalf("allocating: %v", err)
	}
	event := app.EventID(domain.Allocated{OrderID: order, SKU: sku, Qty: 3, BatchRef: ref, Version: version + 1})

	destination := &queueingDestination{failFlushes: 2, published: map[string]int{}}
	runRelay(t, db, postgres.RelayDestination{Publisher: destination, Flush: destination.Flush})

	eventually(t, "the event flushed", func() bool {
		flushed, _, _ := destination.state(event)
		for _, id := range flushed {
			if id == event {
				return true
			}
		}
		return false
	})
	_, flushes, published := destination.state(event)
	if flushes < 3 || published < 3 {
		t.Fatalf("%d flushes, event published %d times; want the batch published again after each of the 2 failed flushes", flushes, published)
	}
	eventually(t, "the outbox offset recorded", func() bool {
		return queryInt(t, db, fmt.Sprintf(`SELECT count(*) FROM "watermill_offsets_%s" o
			WHERE o.offset_acked >= (SELECT max("offset") FROM "watermill_%s")`, postgres.OutboxTopic, postgres.OutboxTopic)) == 1
	})
}

// runRelay runs an outbox relay to the destination until the test ends.
func runRelay(t *testing.T, db *sql.DB, destination postgres.RelayDestination) {
	t.Helper()
	relay, err := postgres.NewOutboxRelay(db, destination, postgres.RelayPolling{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- relay.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-stopped; err != nil {
			t.Errorf("forwarder: %v", err)
		}
	})
}
