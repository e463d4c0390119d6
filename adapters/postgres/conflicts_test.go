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
