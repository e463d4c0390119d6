package postgres_test

import (
	"context"
	"slices"
	"testing"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

// An event applies only when newer than what the view holds for the line,
// so redeliveries and events arriving out of order change nothing.
func TestAllocationsViewAppliesOnlyNewerEvents(t *testing.T) {
	t.Parallel()
	view := postgres.NewPostgresAllocationsView(newTestDB(t))
	// batchRef "" is a Deallocated.
	type event struct {
		batchRef string
		version  int
	}
	for name, tt := range map[string]struct {
		events []event
		want   string // the batch of the line; "" when not allocated
	}{
		"redelivered":                           {events: []event{{"b1", 2}, {"b1", 2}}, want: "b1"},
		"older ones after a newer":              {events: []event{{"b2", 5}, {"", 4}, {"b1", 3}}, want: "b2"},
		"an older allocation after deallocated": {events: []event{{"b2", 5}, {"", 6}, {"b2", 5}}, want: ""},
		"a newer allocation after deallocated":  {events: []event{{"b2", 5}, {"", 6}, {"b3", 7}}, want: "b3"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			order, sku := unique("o"), unique("LAMP")
			for _, e := range tt.events {
				if e.batchRef == "" {
					mustApply(t, view.Deallocated(ctx, domain.Deallocated{OrderID: order, SKU: sku, BatchRef: "b", Version: e.version}))
				} else {
					mustApply(t, view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: e.batchRef, Version: e.version}))
				}
			}
			var want []app.Allocation
			if tt.want != "" {
				want = []app.Allocation{{SKU: sku, BatchRef: tt.want}}
			}
			assertAllocations(t, view, order, want)
		})
	}
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
	errs := concurrently(versions, func(v int) error {
		return view.Allocated(ctx, domain.Allocated{OrderID: order, SKU: sku, BatchRef: "b" + string(rune('a'+v)), Version: v + 1})
	})
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
