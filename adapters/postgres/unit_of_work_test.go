package postgres_test

import (
	"context"
	"testing"

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
