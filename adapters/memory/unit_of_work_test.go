package memory_test

import (
	"context"
	"errors"
	"testing"

	"allocation/adapters/memory"
	"allocation/app"
	"allocation/domain"
)

// recordingPublisher keeps what a commit publishes.
type recordingPublisher struct{ events []domain.Event }

func (p *recordingPublisher) PublishEvents(_ context.Context, events []domain.Event) error {
	p.events = append(p.events, events...)
	return nil
}

func seed(t *testing.T, uow *memory.UnitOfWork, sku, ref string, qty int) {
	t.Helper()
	ctx := context.Background()
	tx, _ := uow.Begin(ctx)
	p, _ := domain.NewProduct(sku)
	if err := p.AddBatch(ref, qty, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Products().Add(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, uow *memory.UnitOfWork, sku string) *domain.Product {
	t.Helper()
	tx, _ := uow.Begin(context.Background())
	defer tx.Rollback(context.Background())
	p, err := tx.Products().Get(context.Background(), sku)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func line(t *testing.T, order string) domain.OrderLine {
	l, err := domain.NewOrderLine(order, "LAMP", 1)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCommittedWorkIsKeptAndPublished(t *testing.T) {
	events := &recordingPublisher{}
	uow := memory.NewUnitOfWork(events)
	seed(t, uow, "LAMP", "b1", 10)
	ctx := context.Background()
	tx, _ := uow.Begin(ctx)
	p, err := tx.Products().GetByBatchRef(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Allocate(line(t, "o1")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := load(t, uow, "LAMP").Batch("b1"); !b.HasLine("o1") {
		t.Fatal("committed allocation lost")
	}
	if len(events.events) != 1 {
		t.Fatalf("published %v, want one Allocated", events.events)
	}
}

func TestUncommittedWorkIsRolledBack(t *testing.T) {
	events := &recordingPublisher{}
	uow := memory.NewUnitOfWork(events)
	seed(t, uow, "LAMP", "b1", 10)
	ctx := context.Background()
	tx, _ := uow.Begin(ctx)
	p, _ := tx.Products().Get(ctx, "LAMP")
	if _, err := p.Allocate(line(t, "o1")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := load(t, uow, "LAMP").Batch("b1"); b.HasLine("o1") || len(events.events) != 0 {
		t.Fatal("rolled-back work is visible or published")
	}
}

func TestConcurrentChangesConflict(t *testing.T) {
	uow := memory.NewUnitOfWork(&recordingPublisher{})
	seed(t, uow, "LAMP", "b1", 10)
	ctx := context.Background()
	first, _ := uow.Begin(ctx)
	second, _ := uow.Begin(ctx)
	for i, tx := range []app.Transaction{first, second} {
		p, _ := tx.Products().Get(ctx, "LAMP")
		if _, err := p.Allocate(line(t, []string{"o1", "o2"}[i])); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var conflict app.ConcurrencyConflictError
	if err := second.Commit(ctx); !errors.As(err, &conflict) {
		t.Fatalf("second commit = %v, want ConcurrencyConflictError", err)
	}
}

func TestBatchRefsAreUniqueAcrossProducts(t *testing.T) {
	uow := memory.NewUnitOfWork(&recordingPublisher{})
	seed(t, uow, "LAMP", "b1", 10)
	ctx := context.Background()
	tx, _ := uow.Begin(ctx)
	p, _ := domain.NewProduct("TABLE")
	_ = p.AddBatch("b1", 5, nil)
	var duplicate domain.DuplicateBatchError
	if err := tx.Products().Add(ctx, p); !errors.As(err, &duplicate) {
		t.Fatalf("add = %v, want DuplicateBatchError", err)
	}
	if _, err := tx.Products().GetByBatchRef(ctx, "nope"); !errors.As(err, new(domain.BatchNotFoundError)) {
		t.Fatalf("unknown ref = %v", err)
	}
}
