package postgres

import (
	"context"
	"database/sql"
)

// writeOneAllocation is the usual change, a product moved on by one line
// allocated to one of its batches, in one statement instead of three:
// the version moves, the batch's allocated total follows, and the line is
// inserted only if both rows matched, so no row inserted means the version
// check failed. Two round trips fewer per allocation.
const writeOneAllocation = `WITH moved AS (
	UPDATE products SET version_number = $3 WHERE sku = $1 AND version_number = $2 RETURNING sku
), batch AS (
	UPDATE batches
	SET purchased_quantity = $5, allocated_quantity = $6, eta = NULLIF($7, '')::date, last_change = NULLIF($8, '')
	WHERE ref = $4 AND EXISTS (SELECT 1 FROM moved)
	RETURNING ref
)
INSERT INTO allocations (batch_ref, orderid, sku, qty) SELECT ref, $9, $10, $11 FROM batch`

// isOneAllocation tells whether the writes are exactly one line added to
// the one batch that changed.
func (w *productWrites) isOneAllocation() bool {
	return len(w.newBatches.refs) == 0 && len(w.removedLines.orderIDs) == 0 &&
		len(w.changedBatches.refs) == 1 && len(w.addedLines.orderIDs) == 1 &&
		w.addedLines.batchRefs[0] == w.changedBatches.refs[0]
}

// execOneAllocation writes a loaded product whose writes are one
// allocation (isOneAllocation).
func execOneAllocation(ctx context.Context, tx *sql.Tx, s *seenProduct, w *productWrites) error {
	sku := s.product.SKU()
	b, l := &w.changedBatches, &w.addedLines
	res, err := tx.ExecContext(ctx, writeOneAllocation,
		sku, s.loadedVersion, s.product.Version(),
		b.refs[0], b.qtys[0], b.allocated[0], b.etas[0], b.changes[0],
		l.orderIDs[0], l.skus[0], l.qtys[0])
	return productWritten(sku, res, err)
}
