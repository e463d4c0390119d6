package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"allocation/app"
	"allocation/domain"
)

func TestRepositoryGetByBatchRef(t *testing.T) {
	t.Parallel()
	_, uow := newStore(t)
	ctx := context.Background()
	sku1, sku2 := unique("sku1"), unique("sku2")
	b1, b2, b3 := unique("b1"), unique("b2"), unique("b3")
	addBatch(t, uow, b1, sku1, 100, nil)
	addBatch(t, uow, b2, sku1, 100, nil)
	addBatch(t, uow, b3, sku2, 100, nil)

	tx := begin(t, uow)
	repo := tx.Products()
	p2, err := repo.GetByBatchRef(ctx, b2)
	if err != nil || p2.SKU() != sku1 {
		t.Fatalf("GetByBatchRef(b2) = %v, %v; want product %s", p2, err, sku1)
	}
	p1, err := repo.GetByBatchRef(ctx, b1)
	if err != nil || p1 != p2 {
		t.Errorf("GetByBatchRef(b1) = %p, %v; want the product already loaded (%p)", p1, err, p2)
	}
	if p, err := repo.Get(ctx, sku1); err != nil || p != p2 {
		t.Errorf("Get(sku1) = %p, %v; want the product already loaded", p, err)
	}
	p3, err := repo.GetByBatchRef(ctx, b3)
	if err != nil || p3.SKU() != sku2 {
		t.Errorf("GetByBatchRef(b3) = %v, %v; want product %s", p3, err, sku2)
	}
	var noBatch domain.BatchNotFoundError
	if _, err := repo.GetByBatchRef(ctx, unique("nope")); !errors.As(err, &noBatch) {
		t.Errorf("GetByBatchRef(unknown) error = %v, want BatchNotFoundError", err)
	}
	var noProduct domain.ProductNotFoundError
	if _, err := repo.Get(ctx, unique("nope")); !errors.As(err, &noProduct) {
		t.Errorf("Get(unknown) error = %v, want ProductNotFoundError", err)
	}
}

// A product is stored and loaded whole: batch order, etas, lines in the
// order they were allocated, and what ChangeBatchQuantity deallocated.
func TestUnitOfWorkStoresTheWholeProduct(t *testing.T) {
	t.Parallel()
	_, uow := newStore(t)
	ctx := context.Background()
	runner := retryingRunner(uow)
	sku := unique("TABLE")
	later, sooner, warehouse := unique("later"), unique("sooner"), unique("warehouse")
	addBatch(t, uow, later, sku, 10, date(2031, 3, 1))
	addBatch(t, uow, sooner, sku, 10, date(2030, 1, 2))
	addBatch(t, uow, warehouse, sku, 6, nil)
	orders := []string{unique("o1"), unique("o2"), unique("o3"), unique("o4")}
	allocate := app.NewAllocateHandler(app.NewProductQueue(runner))
	for _, o := range orders {
		if _, err := allocate.Handle(ctx, &domain.Allocate{OrderID: o, SKU: sku, Qty: 2}); err != nil {
			t.Fatalf("allocating %s: %v", o, err)
		}
	}
	// Warehouse holds o1, o2, o3 (6 of 6); o4 went to the sooner shipment.
	// Shrinking the warehouse to 3 deallocates o3 then o2, and their
	// re-allocation is the event handlers' business, not run here.
	if err := app.NewChangeBatchQuantityHandler(app.NewProductQueue(runner)).Handle(ctx, &domain.ChangeBatchQuantity{Ref: warehouse, Qty: 3}); err != nil {
		t.Fatalf("changing quantity: %v", err)
	}

	tx := begin(t, uow)
	product, err := tx.Products().Get(ctx, sku, orders...)
	if err != nil {
		t.Fatal(err)
	}
	if product.Version() != 3+4+1 {
		t.Errorf("version = %d, want 8", product.Version())
	}
	batches := product.Batches()
	if len(batches) != 3 {
		t.Fatalf("got %d batches, want 3", len(batches))
	}
	want := []struct {
		ref       string
		purchased int
		eta       *time.Time
		orders    []string
	}{
		{later, 10, date(2031, 3, 1), nil},
		{sooner, 10, date(2030, 1, 2), []string{orders[3]}},
		{warehouse, 3, nil, []string{orders[0]}},
	}
	for i, w := range want {
		b := batches[i]
		eta, hasETA := b.ETA()
		if b.Ref() != w.ref || b.PurchasedQuantity() != w.purchased || b.SKU() != sku {
			t.Errorf("batch %d = %s/%s/%d, want %s/%s/%d", i, b.Ref(), b.SKU(), b.PurchasedQuantity(), w.ref, sku, w.purchased)
		}
		if hasETA != (w.eta != nil) || (hasETA && !eta.Equal(*w.eta)) {
			t.Errorf("batch %s eta = %v (%v), want %v", b.Ref(), eta, hasETA, w.eta)
		}
		var got []string
		for _, l := range b.Allocations() {
			got = append(got, l.OrderID())
			if l.SKU() != sku || l.Qty() != 2 {
				t.Errorf("line %s = %s/%d, want %s/2", l.OrderID(), l.SKU(), l.Qty(), sku)
			}
		}
		if !slices.Equal(got, w.orders) {
			t.Errorf("batch %s lines = %v, want %v", b.Ref(), got, w.orders)
		}
	}
}

func TestUnitOfWorkStoresSeveralLinesAddedInOneTransaction(t *testing.T) {
	t.Parallel()
	_, uow := newStore(t)
	ctx := context.Background()
	sku := unique("CHAIR")
	ref := unique("warehouse")
	addBatch(t, uow, ref, sku, 10, nil)
	orders := []string{unique("o1"), unique("o2"), unique("o3")}

	tx := begin(t, uow)
	product, err := tx.Products().Get(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		line, err := domain.NewOrderLine(o, sku, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := product.Allocate(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	reader := begin(t, uow)
	stored, err := reader.Products().Get(ctx, sku, orders...)
	if err != nil {
		t.Fatal(err)
	}
	batch, _ := stored.Batch(ref)
	var got []string
	for _, l := range batch.Allocations() {
		got = append(got, l.OrderID())
	}
	if !slices.Equal(got, orders) {
		t.Errorf("stored lines %v, want %v in allocation order", got, orders)
	}
}

// The last change applied to a batch is stored with it, so a replayed
// older change is refused in a later transaction too.
func TestUnitOfWorkKeepsTheLastChangeOfABatch(t *testing.T) {
	t.Parallel()
	db, uow := newStore(t)
	ctx := context.Background()
	sku, ref := unique("CHANGED"), unique("b")
	addBatch(t, uow, ref, sku, 10, nil)
	change := app.NewChangeBatchQuantityHandler(app.NewProductQueue(retryingRunner(uow)))
	if err := change.Handle(ctx, &domain.ChangeBatchQuantity{Ref: ref, Qty: 8, Sequence: "0002"}); err != nil {
		t.Fatal(err)
	}
	var stale domain.StaleChangeError
	if err := change.Handle(ctx, &domain.ChangeBatchQuantity{Ref: ref, Qty: 3, Sequence: "0001"}); !errors.As(err, &stale) {
		t.Fatalf("older change err = %v, want StaleChangeError", err)
	}
	if n := queryInt(t, db, `SELECT purchased_quantity FROM batches WHERE ref = $1`, ref); n != 8 {
		t.Errorf("purchased_quantity = %d, want 8", n)
	}
}
