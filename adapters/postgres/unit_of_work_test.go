package postgres_test

import (
	"context"
	"errors"
	"testing"

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
	if v := productVersion(t, db, sku); v != 2 {
		t.Errorf("version = %d, want 2", v)
	}
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
	if v := productVersion(t, db, existingSKU); v != 1 {
		t.Errorf("version = %d, want 1", v)
	}
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
