package postgres

import "context"

// WriteViewBatch writes read-model updates as one batch of groupcommit would
// (batchRef "" for a deallocation), for the external tests.
func (v *PostgresAllocationsView) WriteViewBatch(ctx context.Context, updates ...ViewUpdateForTest) error {
	batch := make([]viewUpdate, len(updates))
	for i, u := range updates {
		batch[i] = viewUpdate{orderID: u.OrderID, sku: u.SKU, batchRef: u.BatchRef, version: u.Version}
	}
	return v.write(ctx, batch)
}

type ViewUpdateForTest struct {
	OrderID, SKU, BatchRef string
	Version                int
}
