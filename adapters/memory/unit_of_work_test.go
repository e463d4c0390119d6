package memory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

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

// seed commits a product of the sku with one batch holding a line of each
// order, quantity 1 each.
func seed(t *testing.T, uow *memory.UnitOfWork, sku, ref string, qty int, orders ...string) {
	t.Helper()
	ctx := context.Background()
	tx, _ := uow.Begin(ctx)
	p, _ := domain.NewProduct(sku)
	if err := p.AddBatch(ref, qty, nil); err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		if _, err := p.Allocate(line(t, sku, o)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Products().Add(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// orders returns the orders of the batch's lines as committed, oldest first.
func orders(t *testing.T, uow *memory.UnitOfWork, ref string) []string {
	t.Helper()
	tx, _ := uow.Begin(context.Background())
	defer tx.Rollback(context.Background())
	p, err := tx.Products().GetByBatchRef(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Batch(ref)
	var ids []string
	for _, l := range b.Allocations() {
		ids = append(ids, l.OrderID())
	}
	return ids
}

func line(t *testing.T, sku, order string) domain.OrderLine {
	l, err := domain.NewOrderLine(order, sku, 1)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Committed work is kept and its events published; rolled-back work is
// neither.
func TestCommitKeepsAndRollbackDrops(t *testing.T) {
	for _, tt := range []struct {
		name   string
		end    func(app.Transaction, context.Context) error
		want   []string
		events int
	}{
		{"commit", app.Transaction.Commit, []string{"o1"}, 1},
		{"rollback", app.Transaction.Rollback, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events := &recordingPublisher{}
			uow := memory.NewUnitOfWork(events)
			seed(t, uow, "LAMP", "b1", 10)
			ctx := context.Background()
			tx, _ := uow.Begin(ctx)
			p, err := tx.Products().GetByBatchRef(ctx, "b1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Allocate(line(t, "LAMP", "o1")); err != nil {
				t.Fatal(err)
			}
			if err := tt.end(tx, ctx); err != nil {
				t.Fatal(err)
			}
			if got := orders(t, uow, "b1"); !slices.Equal(got, tt.want) || len(events.events) != tt.events {
				t.Fatalf("lines %v, published %v; want %v and %d events", got, events.events, tt.want, tt.events)
			}
		})
	}
}

// A product comes with the lines of the orders named and the allocated
// totals of all, as from PostgreSQL; a commit keeps the lines not loaded.
func TestProductsComeWithTheLinesNamed(t *testing.T) {
	uow := memory.NewUnitOfWork(nil)
	seed(t, uow, "LAMP", "b1", 10, "o1", "o2", "o3")
	ctx := context.Background()
	tx, _ := uow.Begin(ctx)
	p, err := tx.Products().Get(ctx, "LAMP", "o2")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Batch("b1")
	if len(b.Allocations()) != 1 || !b.HasLine("o2") || b.AllocatedQuantity() != 3 {
		t.Fatalf("loaded lines %v, allocated %d; want o2 alone, 3", b.Allocations(), b.AllocatedQuantity())
	}
	if ref, err := p.Allocate(line(t, "LAMP", "o2")); err != nil || ref != "b1" {
		t.Fatalf("allocating o2 again = %q, %v", ref, err)
	}
	if _, err := p.Allocate(line(t, "LAMP", "o4")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := orders(t, uow, "b1"); !slices.Equal(got, []string{"o1", "o2", "o3", "o4"}) {
		t.Fatalf("committed lines = %v", got)
	}
}

// Whatever a transaction does to its product, the store and the products
// of other transactions see nothing of it until it commits.
func TestTransactionsShareNothingWithTheStore(t *testing.T) {
	changes := map[string]struct {
		change func(t *testing.T, p *domain.Product)
		after  []string // committed lines of b1
	}{
		"allocate": {func(t *testing.T, p *domain.Product) {
			if _, err := p.Allocate(line(t, "LAMP", "o4")); err != nil {
				t.Fatal(err)
			}
		}, []string{"o1", "o2", "o3", "o4"}},
		"deallocate then allocate": {func(t *testing.T, p *domain.Product) {
			b, _ := p.Batch("b1")
			b.Deallocate("o2")
			if _, err := p.Allocate(line(t, "LAMP", "o5")); err != nil {
				t.Fatal(err)
			}
		}, []string{"o1", "o3", "o5"}},
		"shrink then allocate": {func(t *testing.T, p *domain.Product) {
			if err := p.ChangeBatchQuantity("b1", 1); err != nil {
				t.Fatal(err)
			}
			if err := p.ChangeBatchQuantity("b1", 100); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Allocate(line(t, "LAMP", "o6")); err != nil {
				t.Fatal(err)
			}
		}, []string{"o1", "o6"}},
	}
	for name, c := range changes {
		t.Run(name, func(t *testing.T) {
			uow := memory.NewUnitOfWork(nil)
			seed(t, uow, "LAMP", "b1", 100, "o1", "o2", "o3")
			ctx := context.Background()
			changing, _ := uow.Begin(ctx)
			other, _ := uow.Begin(ctx)
			p, _ := changing.Products().GetByBatchRef(ctx, "b1")
			before, _ := other.Products().GetByBatchRef(ctx, "b1")
			c.change(t, p)
			if got := orders(t, uow, "b1"); !slices.Equal(got, []string{"o1", "o2", "o3"}) {
				t.Fatalf("uncommitted change seen in the store: %v", got)
			}
			if b, _ := before.Batch("b1"); b.AllocatedQuantity() != 3 || len(b.Allocations()) != 3 {
				t.Fatalf("uncommitted change seen by another transaction: %v", b.Allocations())
			}
			if err := changing.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got := orders(t, uow, "b1"); !slices.Equal(got, c.after) {
				t.Fatalf("committed lines = %v, want %v", got, c.after)
			}
		})
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
		if _, err := p.Allocate(line(t, "LAMP", []string{"o1", "o2"}[i])); err != nil {
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

// Commits of one product, one after another, while other transactions
// load it: the race detector sees whether a commit writes what a load reads.
func TestLoadsWhileCommitting(t *testing.T) {
	uow := memory.NewUnitOfWork(nil)
	seed(t, uow, "LAMP", "b1", 1000, "o1", "o2", "o3")
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				tx, _ := uow.Begin(ctx)
				if p, err := tx.Products().GetByBatchRef(ctx, "b1"); err != nil || len(p.Batches()) != 1 {
					t.Errorf("load = %v", err)
				}
				_ = tx.Rollback(ctx)
			}
		})
	}
	for i := range 50 {
		tx, _ := uow.Begin(ctx)
		p, _ := tx.Products().Get(ctx, "LAMP")
		if _, err := p.Allocate(line(t, "LAMP", fmt.Sprintf("n%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := orders(t, uow, "b1"); len(got) != 53 {
		t.Fatalf("%d lines committed, want 53", len(got))
	}
}

// Batch references are unique across products: the store refuses a
// reference another product holds, whether the product is new or not.
func TestBatchRefsAreUniqueAcrossProducts(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T, uow *memory.UnitOfWork) error{
		"new product": func(t *testing.T, uow *memory.UnitOfWork) error {
			tx, _ := uow.Begin(ctx)
			p, _ := domain.NewProduct("TABLE")
			_ = p.AddBatch("b1", 5, nil)
			return tx.Products().Add(ctx, p)
		},
		"batch added to a product": func(t *testing.T, uow *memory.UnitOfWork) error {
			seed(t, uow, "TABLE", "t1", 5)
			tx, _ := uow.Begin(ctx)
			p, _ := tx.Products().Get(ctx, "TABLE")
			_ = p.AddBatch("b1", 5, nil)
			return tx.Commit(ctx)
		},
		"through the handler": func(t *testing.T, uow *memory.UnitOfWork) error {
			products := app.NewProductQueue(app.NewTransactionRunner(uow, app.ConflictRetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 50 * time.Millisecond}, nil))
			return app.NewAddBatchHandler(products).Handle(ctx, &domain.CreateBatch{Ref: "b1", SKU: "TABLE", Qty: 5})
		},
	}
	for name, add := range cases {
		t.Run(name, func(t *testing.T) {
			uow := memory.NewUnitOfWork(nil)
			seed(t, uow, "LAMP", "b1", 10)
			var duplicate domain.DuplicateBatchError
			if err := add(t, uow); !errors.As(err, &duplicate) || duplicate.Ref != "b1" {
				t.Fatalf("err = %v, want DuplicateBatchError{b1}", err)
			}
		})
	}
	uow := memory.NewUnitOfWork(nil)
	tx, _ := uow.Begin(ctx)
	if _, err := tx.Products().GetByBatchRef(ctx, "nope"); !errors.As(err, new(domain.BatchNotFoundError)) {
		t.Fatalf("unknown ref = %v", err)
	}
}
