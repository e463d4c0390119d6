package postgres_test

import (
	"context"
	"errors"
	"testing"

	"allocation/app"
	"allocation/domain"
)

func TestUnitOfWorkRefusesDuplicateBatchRefs(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	uow := newUnitOfWork(t, db, nil)
	ref := unique("b")
	addBatch(t, uow, ref, unique("A"), 10, nil)
	var duplicate domain.DuplicateBatchError

	t.Run("through the handler", func(t *testing.T) {
		err := app.NewAddBatchHandler(retryingRunner(uow)).Handle(ctx, &domain.CreateBatch{Ref: ref, SKU: unique("B"), Qty: 5})
		if !errors.As(err, &duplicate) || duplicate.Ref != ref {
			t.Errorf("err = %v, want DuplicateBatchError{%s}", err, ref)
		}
	})
	t.Run("when Add finds it taken", func(t *testing.T) {
		tx, err := uow.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		err = tx.Products().Add(ctx, newProduct(t, unique("C"), ref))
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
	db := newTestDB(t)
	ctx := context.Background()
	uow := newUnitOfWork(t, db, nil)
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

// A transaction that only read a product fails when the product changed
// meanwhile, as in the in-memory store: its outcome (here OutOfStock) was
// decided on stale state.
func TestUnitOfWorkChecksProductsItOnlyRead(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	uow := newUnitOfWork(t, db, nil)
	sku := unique("SMALL")
	addBatch(t, uow, unique("b1"), sku, 1, nil)

	reader := begin(t, uow)
	product, err := reader.Products().Get(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := domain.NewOrderLine(unique("o"), sku, 5)
	if _, err := product.Allocate(line); !errors.As(err, new(domain.OutOfStockError)) {
		t.Fatalf("allocate err = %v, want OutOfStockError", err)
	}
	addBatch(t, uow, unique("b2"), sku, 10, nil)
	var conflict app.ConcurrencyConflictError
	if err := reader.Commit(ctx); !errors.As(err, &conflict) {
		t.Errorf("err = %v, want ConcurrencyConflictError", err)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM "watermill_allocation.events.OutOfStock"`); n != 0 {
		t.Errorf("stale OutOfStock was published")
	}

	unchanged := begin(t, uow)
	if _, err := unchanged.Products().Get(ctx, sku); err != nil {
		t.Fatal(err)
	}
	if err := unchanged.Commit(ctx); err != nil {
		t.Errorf("commit without changes = %v, want nil", err)
	}
}

func TestUnitOfWorkChecksEveryProductItOnlyRead(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	uow := newUnitOfWork(t, db, nil)
	skuA, skuB := unique("A"), unique("B")
	addBatch(t, uow, unique("a1"), skuA, 10, nil)
	addBatch(t, uow, unique("b1"), skuB, 10, nil)

	readBoth := func() app.Transaction {
		t.Helper()
		tx := begin(t, uow)
		for _, sku := range []string{skuA, skuB} {
			if _, err := tx.Products().Get(ctx, sku); err != nil {
				t.Fatal(err)
			}
		}
		return tx
	}

	unchanged := readBoth()
	if err := unchanged.Commit(ctx); err != nil {
		t.Fatalf("commit of two unchanged products = %v, want nil", err)
	}

	stale := readBoth()
	addBatch(t, uow, unique("b2"), skuB, 10, nil)
	var conflict app.ConcurrencyConflictError
	if err := stale.Commit(ctx); !errors.As(err, &conflict) || conflict.SKU != skuB {
		t.Errorf("err = %v, want ConcurrencyConflictError on %s", err, skuB)
	}
}
