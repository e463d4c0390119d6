package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"allocation/app"
	"allocation/domain"
)

// Many commands allocating the same sku at once: optimistic concurrency and
// retries must let exactly as many through as the batch holds.
func TestConcurrentAllocationsNeverOverAllocate(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	uow := newUnitOfWork(t, db, nil)
	const (
		goroutines = 20
		lineQty    = 2
		batchQty   = 10
		fits       = batchQty / lineQty
	)
	sku, ref := unique("HOT"), unique("b")
	addBatch(t, uow, ref, sku, batchQty, nil)
	initialVersion := productVersion(t, db, sku)
	// Each conflict means another command moved the version, which happens
	// only `fits` times, so no command needs more than `fits` retries.
	if app.DefaultConflictRetryPolicy().MaxRetries < fits {
		t.Fatalf("retry policy too short for this test")
	}
	var conflicts atomic.Int64
	handler := app.NewAllocateHandler(app.NewTransactionRunner(uow, app.DefaultConflictRetryPolicy(), func() { conflicts.Add(1) }))

	start := make(chan struct{})
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = handler.Handle(ctx, &domain.Allocate{OrderID: unique("o"), SKU: sku, Qty: lineQty})
		}()
	}
	close(start)
	wg.Wait()

	t.Logf("%d conflicts retried", conflicts.Load())
	allocated, outOfStock := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			allocated++
		case errors.As(err, new(domain.OutOfStockError)):
			outOfStock++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if allocated != fits || outOfStock != goroutines-fits {
		t.Errorf("allocated %d, out of stock %d; want %d and %d", allocated, outOfStock, fits, goroutines-fits)
	}
	if v := productVersion(t, db, sku); v != initialVersion+fits {
		t.Errorf("version = %d, want %d", v, initialVersion+fits)
	}
	rows := queryInt(t, db, `SELECT count(*) FROM allocations WHERE batch_ref = $1`, ref)
	total := queryInt(t, db, `SELECT coalesce(sum(qty), 0) FROM allocations WHERE batch_ref = $1`, ref)
	if rows != fits || total > batchQty {
		t.Errorf("batch holds %d lines totalling %d, want %d lines and at most %d", rows, total, fits, batchQty)
	}
}

// Without retries, the second of two transactions that loaded the same
// product fails to commit with a concurrency conflict.
func TestSecondCommitOfTheSameProductConflicts(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	uow := newUnitOfWork(t, db, nil)
	sku := unique("CONTESTED")
	addBatch(t, uow, unique("b"), sku, 100, nil)
	noRetries := app.NewTransactionRunner(uow, app.ConflictRetryPolicy{MaxRetries: 0}, nil)

	allocate := func(ctx context.Context, tx app.Transaction, loaded chan<- struct{}, mayCommit <-chan struct{}) error {
		product, err := tx.Products().Get(ctx, sku)
		close(loaded)
		if err != nil {
			return err
		}
		line, _ := domain.NewOrderLine(unique("o"), sku, 1)
		if _, err := product.Allocate(line); err != nil {
			return err
		}
		<-mayCommit
		return tx.Commit(ctx)
	}
	firstLoaded, secondLoaded, firstDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var firstErr error
	go func() {
		defer close(firstDone)
		firstErr = noRetries.Run(ctx, func(ctx context.Context, tx app.Transaction) error {
			return allocate(ctx, tx, firstLoaded, secondLoaded)
		})
	}()
	secondErr := noRetries.Run(ctx, func(ctx context.Context, tx app.Transaction) error {
		<-firstLoaded
		return allocate(ctx, tx, secondLoaded, firstDone)
	})
	<-firstDone

	if firstErr != nil {
		t.Fatalf("first commit: %v", firstErr)
	}
	var conflict app.ConcurrencyConflictError
	if !errors.As(secondErr, &conflict) || conflict.SKU != sku {
		t.Fatalf("second commit err = %v, want ConcurrencyConflictError{%s}", secondErr, sku)
	}
	if v := productVersion(t, db, sku); v != 2 {
		t.Errorf("version = %d, want 2", v)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM allocations WHERE sku = $1`, sku); n != 1 {
		t.Errorf("%d allocations, want 1", n)
	}
}
