package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/memory"
	"allocation/app"
	"allocation/domain"
)

// A product with thousands of lines is loaded without them, yet allocation,
// idempotent re-allocation and deallocation on a shrinking batch give
// exactly what the in-memory store, which holds every line, gives: the same
// answers, the same events (by their stable ids) and the same lines.
func TestAProductWithThousandsOfLinesBehavesAsInMemory(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	sku := unique("HISTORY")
	warehouse, shipment := unique("warehouse"), unique("shipment")

	pgEvents := &recordingOutbox{}
	pgStore := newUnitOfWork(t, db, pgEvents.factory)
	memEvents := &recordingEventPublisher{}
	memStore := memory.NewUnitOfWork(memEvents)

	stores := []struct {
		name   string
		uow    app.UnitOfWork
		events func() []string
		lines  func(t *testing.T) map[string][]string
	}{
		{"postgres", pgStore, pgEvents.ids, func(t *testing.T) map[string][]string { return storedLines(t, db, sku) }},
		{"memory", memStore, memEvents.ids, func(t *testing.T) map[string][]string { return productLines(t, memStore, sku) }},
	}
	var answers [2][]string
	for i, s := range stores {
		answers[i] = runHistoryScenario(t, s.uow, sku, warehouse, shipment)
	}
	if !slices.Equal(answers[0], answers[1]) {
		t.Errorf("answers differ:\npostgres %v\nmemory   %v", answers[0], answers[1])
	}
	want := []string{
		"o-new: " + shipment, // warehouse full
		"o-10: " + warehouse, // already allocated: the same batch, nothing changes
		"o-3100: " + shipment,
		"shrink warehouse: ok",
		"o-2995: " + shipment, // deallocated by the shrink, allocated again
		"shrink shipment: ok",
		"o-big: out of stock",
	}
	if !slices.Equal(answers[1], want) {
		t.Errorf("answers %v, want %v", answers[1], want)
	}
	if pg, mem := stores[0].events(), stores[1].events(); !slices.Equal(pg, mem) || len(pg) == 0 {
		t.Errorf("events differ: postgres published %d, memory %d (first difference at %d)", len(pg), len(mem), firstDifference(pg, mem))
	}
	pgLines, memLines := stores[0].lines(t), stores[1].lines(t)
	for _, ref := range []string{warehouse, shipment} {
		if !slices.Equal(pgLines[ref], memLines[ref]) {
			t.Errorf("batch %s: postgres holds %d lines, memory %d (first difference at %d)",
				ref, len(pgLines[ref]), len(memLines[ref]), firstDifference(pgLines[ref], memLines[ref]))
		}
	}
	for ref, n := range map[string]int{warehouse: 2990, shipment: 100} {
		if got := queryInt(t, db, `SELECT allocated_quantity FROM batches WHERE ref = $1`, ref); got != n {
			t.Errorf("batch %s allocated_quantity = %d, want %d", ref, got, n)
		}
		if got := queryInt(t, db, `SELECT coalesce(sum(qty), 0) FROM allocations WHERE batch_ref = $1`, ref); got != n {
			t.Errorf("batch %s lines total %d, want %d", ref, got, n)
		}
	}
}

// runHistoryScenario gives the product 3,500 lines (3,000 in the warehouse,
// 500 in the shipment), then runs commands whose answers it returns.
func runHistoryScenario(t *testing.T, uow app.UnitOfWork, sku, warehouse, shipment string) []string {
	t.Helper()
	ctx := context.Background()
	addBatch(t, uow, warehouse, sku, 3000, nil)
	addBatch(t, uow, shipment, sku, 3000, date(2030, 1, 1))
	tx := begin(t, uow)
	product, err := tx.Products().Get(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3500 {
		line, _ := domain.NewOrderLine(fmt.Sprintf("o-%d", i), sku, 1)
		if _, err := product.Allocate(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	queue := app.NewProductQueue(retryingRunner(uow))
	allocate, change := app.NewAllocateHandler(queue), app.NewChangeBatchQuantityHandler(queue)
	var answers []string
	alloc := func(order string, qty int) {
		ref, err := allocate.Handle(ctx, &domain.Allocate{OrderID: order, SKU: sku, Qty: qty})
		switch {
		case err == nil:
			answers = append(answers, order+": "+ref)
		case isOutOfStock(err):
			answers = append(answers, order+": out of stock")
		default:
			t.Fatalf("allocating %s: %v", order, err)
		}
	}
	shrink := func(name, ref string, qty int) {
		if err := change.Handle(ctx, &domain.ChangeBatchQuantity{Ref: ref, Qty: qty}); err != nil {
			t.Fatalf("shrinking %s: %v", ref, err)
		}
		answers = append(answers, "shrink "+name+": ok")
	}
	alloc("o-new", 2)
	alloc("o-10", 1)
	alloc("o-3100", 1)
	shrink("warehouse", warehouse, 2990)
	alloc("o-2995", 1)
	shrink("shipment", shipment, 100)
	alloc("o-big", 10000)
	return answers
}

func isOutOfStock(err error) bool { return errors.As(err, new(domain.OutOfStockError)) }

// storedLines reads every line of the product's batches, in order.
func storedLines(t *testing.T, db *sql.DB, sku string) map[string][]string {
	t.Helper()
	rows, err := db.Query(`SELECT batch_ref, orderid, qty FROM allocations WHERE sku = $1 ORDER BY id`, sku)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	lines := map[string][]string{}
	for rows.Next() {
		var ref, order string
		var qty int
		if err := rows.Scan(&ref, &order, &qty); err != nil {
			t.Fatal(err)
		}
		lines[ref] = append(lines[ref], fmt.Sprintf("%s/%d", order, qty))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// productLines reads every line of the product from the in-memory store.
func productLines(t *testing.T, uow app.UnitOfWork, sku string) map[string][]string {
	t.Helper()
	tx := begin(t, uow)
	product, err := tx.Products().Get(context.Background(), sku)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{}
	for _, b := range product.Batches() {
		for _, l := range b.Allocations() {
			lines[b.Ref()] = append(lines[b.Ref()], fmt.Sprintf("%s/%d", l.OrderID(), l.Qty()))
		}
	}
	return lines
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// recordingOutbox is an outbox that keeps the ids of the messages written
// to it, in order, instead of storing them.
type recordingOutbox struct {
	mu       sync.Mutex
	messages []string
}

func (o *recordingOutbox) factory(*sql.Tx) (message.Publisher, error) { return o, nil }

func (o *recordingOutbox) Publish(_ string, msgs ...*message.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		o.messages = append(o.messages, m.UUID)
	}
	return nil
}

func (o *recordingOutbox) Close() error { return nil }

func (o *recordingOutbox) ids() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.messages)
}

// recordingEventPublisher keeps the stable ids of the events the in-memory
// store publishes, the ids the event bus gives their messages.
type recordingEventPublisher struct {
	mu        sync.Mutex
	published []string
}

func (p *recordingEventPublisher) PublishEvents(_ context.Context, events []domain.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		p.published = append(p.published, app.EventID(e))
	}
	return nil
}

func (p *recordingEventPublisher) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.published)
}
