package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"allocation/app"
	"allocation/domain"
)

// The book's first unit-of-work test: rows inserted by hand are loaded as a
// product, and an allocation committed through the unit of work shows up
// as rows.
func TestUnitOfWorkCanRetrieveABatchAndAllocateToIt(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	sku, ref, order := unique("HIPSTER-WORKBENCH"), unique("batch1"), unique("o1")
	mustExec(t, db, `INSERT INTO products (sku, version_number) VALUES ($1, 1)`, sku)
	mustExec(t, db, `INSERT INTO batches (ref, sku, purchased_quantity, eta) VALUES ($1, $2, 100, NULL)`, ref, sku)
	uow := newUnitOfWork(t, db, nil)

	tx := begin(t, uow)
	product, err := tx.Products().Get(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	if err := allocateLine(product, order, 10); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("rollback after commit should do nothing, got %v", err)
	}

	var batchRef string
	var qty int
	if err := db.QueryRowContext(ctx, `SELECT batch_ref, qty FROM allocations WHERE orderid = $1 AND sku = $2`, order, sku).Scan(&batchRef, &qty); err != nil {
		t.Fatalf("reading allocation: %v", err)
	}
	if batchRef != ref || qty != 10 {
		t.Errorf("allocation = %s/%d, want %s/10", batchRef, qty, ref)
	}
	wantVersion(t, db, sku, 2)
}

func TestUnitOfWorkRollsBackUncommittedWorkByDefault(t *testing.T) {
	t.Parallel()
	db, uow := newStore(t)
	ctx := context.Background()
	existingSKU, existingRef := unique("LAMP"), unique("b-existing")
	addBatch(t, uow, existingRef, existingSKU, 10, nil)
	newSKU, newRef := unique("CHAIR"), unique("b-new")

	tx := begin(t, uow)
	product, _ := domain.NewProduct(newSKU)
	if err := product.AddBatch(newRef, 5, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Products().Add(ctx, product); err != nil {
		t.Fatal(err)
	}
	existing, err := tx.Products().Get(ctx, existingSKU)
	if err != nil {
		t.Fatal(err)
	}
	if err := allocateLine(existing, unique("o"), 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v", err)
	}

	if n := queryInt(t, db, `SELECT count(*) FROM products WHERE sku = $1`, newSKU); n != 0 {
		t.Errorf("uncommitted product was stored")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM allocations WHERE sku = $1`, existingSKU); n != 0 {
		t.Errorf("uncommitted allocation was stored")
	}
	wantVersion(t, db, existingSKU, 1)
}

func TestUnitOfWorkRefusesDuplicateBatchRefs(t *testing.T) {
	t.Parallel()
	db, uow := newStore(t)
	ctx := context.Background()
	ref := unique("b")
	addBatch(t, uow, ref, unique("A"), 10, nil)
	var duplicate domain.DuplicateBatchError

	t.Run("through the handler", func(t *testing.T) {
		err := app.NewAddBatchHandler(app.NewProductQueue(retryingRunner(uow))).Handle(ctx, &domain.CreateBatch{Ref: ref, SKU: unique("B"), Qty: 5})
		if !errors.As(err, &duplicate) || duplicate.Ref != ref {
			t.Errorf("err = %v, want DuplicateBatchError{%s}", err, ref)
		}
	})
	t.Run("when Add finds it taken", func(t *testing.T) {
		tx := begin(t, uow)
		err := tx.Products().Add(ctx, newProduct(t, unique("C"), ref))
		if !errors.As(err, &duplicate) || duplicate.Ref != ref {
			t.Errorf("err = %v, want DuplicateBatchError{%s}", err, ref)
		}
	})
	t.Run("when another transaction commits it first", func(t *testing.T) {
		raced := unique("raced")
		first, second := begin(t, uow), begin(t, uow)
		if err := first.Products().Add(ctx, newProduct(t, unique("D"), raced)); err != nil {
			t.Fatal(err)
		}
		if err := second.Products().Add(ctx, newProduct(t, unique("E"), raced)); err != nil {
			t.Fatal(err)
		}
		if err := first.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		err := second.Commit(ctx)
		if !errors.As(err, &duplicate) || duplicate.Ref != raced {
			t.Errorf("err = %v, want DuplicateBatchError{%s}", err, raced)
		}
		if n := queryInt(t, db, `SELECT count(*) FROM batches WHERE ref = $1`, raced); n != 1 {
			t.Errorf("%d batches %s, want 1", n, raced)
		}
	})
}

func TestUnitOfWorkNewProductRace(t *testing.T) {
	t.Parallel()
	_, uow := newStore(t)
	ctx := context.Background()
	sku := unique("NEW")
	first, second := begin(t, uow), begin(t, uow)
	if err := first.Products().Add(ctx, newProduct(t, sku, unique("b1"))); err != nil {
		t.Fatal(err)
	}
	if err := second.Products().Add(ctx, newProduct(t, sku, unique("b2"))); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var conflict app.ConcurrencyConflictError
	if err := second.Commit(ctx); !errors.As(err, &conflict) || conflict.SKU != sku {
		t.Errorf("err = %v, want ConcurrencyConflictError{%s}", err, sku)
	}
	if err := second.Commit(ctx); err == nil {
		t.Errorf("second Commit of a finished transaction succeeded")
	}
	if err := second.Rollback(ctx); err != nil {
		t.Errorf("Rollback after a failed Commit = %v, want nil", err)
	}
}

// Many commands allocating the same sku at once: optimistic concurrency and
// retries must let exactly as many through as the batch holds.
func TestConcurrentAllocationsNeverOverAllocate(t *testing.T) {
	t.Parallel()
	db, uow := newStore(t)
	ctx := context.Background()
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
	policy := app.ConflictRetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 50 * time.Millisecond}
	if policy.MaxRetries < fits {
		t.Fatalf("retry policy too short for this test")
	}
	var conflicts atomic.Int64
	handler := app.NewAllocateHandler(app.NewProductQueue(app.NewTransactionRunner(uow, policy, func() { conflicts.Add(1) })))

	errs := concurrently(goroutines, func(int) error {
		_, err := handler.Handle(ctx, &domain.Allocate{OrderID: unique("o"), SKU: sku, Qty: lineQty})
		return err
	})

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
	wantVersion(t, db, sku, initialVersion+fits)
	rows := queryInt(t, db, `SELECT count(*) FROM allocations WHERE batch_ref = $1`, ref)
	total := queryInt(t, db, `SELECT coalesce(sum(qty), 0) FROM allocations WHERE batch_ref = $1`, ref)
	if rows != fits || total > batchQty {
		t.Errorf("batch holds %d lines totalling %d, want %d lines and at most %d", rows, total, fits, batchQty)
	}
}

// A product is locked from the moment a transaction loads it: a second
// transaction loading it waits for the first to end, then sees its change,
// and commits without a conflict. This is what keeps several processes on
// one hot product from failing each other's commands.
func TestSecondLoadOfTheSameProductWaitsForTheFirstTransaction(t *testing.T) {
	t.Parallel()
	db, uow := newStore(t)
	ctx := context.Background()
	sku := unique("CONTESTED")
	addBatch(t, uow, unique("b"), sku, 100, nil)
	noRetries := app.NewTransactionRunner(uow, app.ConflictRetryPolicy{MaxRetries: 0}, nil)
	allocate := func(ctx context.Context, tx app.Transaction, order string) (*domain.Product, error) {
		product, err := tx.Products().Get(ctx, sku, order)
		if err != nil {
			return nil, err
		}
		if err := allocateLine(product, order, 1); err != nil {
			return nil, err
		}
		return product, nil
	}

	first := begin(t, uow)
	if _, err := allocate(ctx, first, unique("o")); err != nil {
		t.Fatal(err)
	}
	secondDone := make(chan error, 1)
	var seenVersion int
	go func() {
		secondDone <- noRetries.Run(ctx, func(ctx context.Context, tx app.Transaction) error {
			product, err := allocate(ctx, tx, unique("o"))
			if err != nil {
				return err
			}
			seenVersion = product.Version() - 1
			return tx.Commit(ctx)
		})
	}()
	waitForLockWaiters(t, db, 1)
	select {
	case err := <-secondDone:
		t.Fatalf("second transaction ended (%v) while the first held the product", err)
	default:
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	if err := <-secondDone; err != nil {
		t.Fatalf("second transaction: %v, want no conflict", err)
	}
	if seenVersion != 2 {
		t.Errorf("second transaction loaded version %d, want 2 (after the first's commit)", seenVersion)
	}
	wantVersion(t, db, sku, 3)
	if n := queryInt(t, db, `SELECT allocated_quantity FROM batches WHERE sku = $1`, sku); n != 2 {
		t.Errorf("allocated_quantity = %d, want 2", n)
	}
}

// waitForLockWaiters waits until n sessions wait for a row of this test's
// products table: a session waiting for a row lock holds (or waits for)
// a tuple lock on it.
func waitForLockWaiters(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for queryInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'tuple' AND relation = 'products'::regclass`) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no session waits for the product's lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
