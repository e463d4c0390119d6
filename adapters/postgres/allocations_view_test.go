package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

func TestAllocationsViewIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	view := postgres.NewPostgresAllocationsView(newTestDB(t))
	order, sku := unique("o"), unique("LAMP")
	e := domain.Allocated{OrderID: order, SKU: sku, Qty: 1, BatchRef: "b1", Version: 2}

	for range 2 {
		if err := view.Allocated(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	assertAllocations(t, view, order, []app.Allocation{{SKU: sku, BatchRef: "b1"}})
}

func TestAllocationsViewIgnoresStaleEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	view := postgres.NewPostgresAllocationsView(newTestDB(t))
	order, sku := unique("o"), unique("LAMP")

	mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b2", Version: 5}))
	mustApply(t, view.Deallocated(ctx, domain.Deallocated{OrderID: order, SKU: sku, BatchRef: "b1", Version: 4}))
	mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b1", Version: 3}))
	assertAllocations(t, view, order, []app.Allocation{{SKU: sku, BatchRef: "b2"}})

	mustApply(t, view.Deallocated(ctx, domain.Deallocated{OrderID: order, SKU: sku, BatchRef: "b2", Version: 6}))
	assertAllocations(t, view, order, nil)
	mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b2", Version: 5}))
	assertAllocations(t, view, order, nil)

	mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b3", Version: 7}))
	assertAllocations(t, view, order, []app.Allocation{{SKU: sku, BatchRef: "b3"}})
}

// Rows are per order line and listed by sku in byte order, as the
// in-memory view lists them.
func TestAllocationsViewListsAnOrdersLinesBySKU(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	view := postgres.NewPostgresAllocationsView(newTestDB(t))
	order, other := unique("o"), unique("o")
	for _, sku := range []string{"lamp", "TABLE", "Chair"} {
		mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b-" + sku, Version: 1}))
	}
	mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: other, SKU: "lamp", BatchRef: "b-x", Version: 2}))

	assertAllocations(t, view, order, []app.Allocation{
		{SKU: "Chair", BatchRef: "b-Chair"}, {SKU: "TABLE", BatchRef: "b-TABLE"}, {SKU: "lamp", BatchRef: "b-lamp"},
	})
	assertAllocations(t, view, unique("unknown"), nil)
}

// Concurrent deliveries of events for one line end with the newest.
func TestAllocationsViewKeepsTheNewestUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	view := postgres.NewPostgresAllocationsView(newTestDB(t))
	order, sku := unique("o"), unique("LAMP")
	const versions = 20
	var wg sync.WaitGroup
	errs := make([]error, versions)
	for v := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[v] = view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b" + string(rune('a'+v)), Version: v + 1})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		mustApply(t, err)
	}
	assertAllocations(t, view, order, []app.Allocation{{SKU: sku, BatchRef: "b" + string(rune('a'+versions-1))}})
}

func mustApply(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertAllocations(t *testing.T, view app.AllocationsView, order string, want []app.Allocation) {
	t.Helper()
	got, err := view.AllocationsFor(context.Background(), order)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("allocations of %s = %v, want %v", order, got, want)
	}
}

// A batch written at once (groupcommit) may update one line more than once;
// it ends as the newest of them, like the updates applied one by one.
func TestAllocationsViewBatchKeepsTheNewestOfEachLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	view := postgres.NewPostgresAllocationsView(newTestDB(t))
	order, other, sku := unique("o"), unique("o"), unique("LAMP")
	mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: other, SKU: sku, BatchRef: "b-old", Version: 1}))

	mustApply(t, view.WriteViewBatch(ctx,
		postgres.ViewUpdateForTest{OrderID: order, SKU: sku, BatchRef: "b1", Version: 3},
		postgres.ViewUpdateForTest{OrderID: order, SKU: sku, BatchRef: "b2", Version: 5},
		postgres.ViewUpdateForTest{OrderID: order, SKU: sku, BatchRef: "", Version: 4},
		postgres.ViewUpdateForTest{OrderID: other, SKU: sku, BatchRef: "", Version: 2},
	))

	assertAllocations(t, view, order, []app.Allocation{{SKU: sku, BatchRef: "b2"}})
	assertAllocations(t, view, other, nil)
}
