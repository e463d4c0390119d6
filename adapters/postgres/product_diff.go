package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"allocation/domain"
)

// productWrites gathers the batch and line changes of every changed
// product, so that each kind of change is one statement whatever the number
// of products and batches. Allocating one line costs one INSERT.
type productWrites struct {
	newBatches     batchRows
	changedBatches batchRows
	removedLines   lineRows
	addedLines     lineRows
}

// batchRows and lineRows are columns, passed to unnest() as arrays.
type batchRows struct {
	refs, skus []string
	qtys       []int64
	allocated  []int64
	etas       []string // "" for no eta
	changes    []string // "" for none
}

func (r *batchRows) add(b *domain.Batch) {
	r.refs = append(r.refs, b.Ref())
	r.skus = append(r.skus, b.SKU())
	r.qtys = append(r.qtys, int64(b.PurchasedQuantity()))
	r.allocated = append(r.allocated, int64(b.AllocatedQuantity()))
	r.etas = append(r.etas, formatDate(etaOf(b)))
	r.changes = append(r.changes, b.LastChange())
}

type lineRows struct {
	batchRefs, orderIDs, skus []string
	qtys                      []int64
}

func (r *lineRows) add(batchRef string, lines []domain.OrderLine) {
	for _, l := range lines {
		r.batchRefs = append(r.batchRefs, batchRef)
		r.orderIDs = append(r.orderIDs, l.OrderID())
		r.skus = append(r.skus, l.SKU())
		r.qtys = append(r.qtys, int64(l.Qty()))
	}
}

func formatDate(d *time.Time) string {
	if d == nil {
		return ""
	}
	return d.Format(time.DateOnly)
}

// add diffs the product against its loaded state. The domain never removes
// a batch, so only new and changed batches are written. A batch's lines
// keep their rows up to the first difference from the loaded lines; the
// rest is deleted and the new tail inserted, which keeps insertion order
// and makes the usual changes (a line appended, the newest lines
// deallocated) touch only the lines concerned. That holds when the batch
// was loaded with only some of its lines too: the domain appends lines and
// deallocates the newest, and it is given every line of a batch it may
// shrink.
func (w *productWrites) add(s *seenProduct) {
	for _, b := range s.product.Batches() {
		before, loaded := s.loaded[b.Ref()]
		lines := b.Allocations()
		if !loaded {
			w.newBatches.add(b)
			w.addedLines.add(b.Ref(), lines)
			continue
		}
		if before.purchased != b.PurchasedQuantity() || before.allocated != b.AllocatedQuantity() || before.lastChange != b.LastChange() || formatDate(before.eta) != formatDate(etaOf(b)) {
			w.changedBatches.add(b)
		}
		kept := commonPrefixLength(before.lines, lines)
		w.removedLines.add(b.Ref(), before.lines[kept:])
		w.addedLines.add(b.Ref(), lines[kept:])
	}
}

func commonPrefixLength(a, b []domain.OrderLine) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func (w *productWrites) exec(ctx context.Context, tx *sql.Tx) error {
	if err := insertBatches(ctx, tx, w.newBatches); err != nil {
		return err
	}
	switch len(w.changedBatches.refs) {
	case 0:
	case 1:
		// The usual change, one line allocated: the plain form costs
		// PostgreSQL less than the unnest join.
		_, err := tx.ExecContext(ctx, `UPDATE batches
			SET purchased_quantity = $2, allocated_quantity = $3, eta = NULLIF($4, '')::date, last_change = NULLIF($5, '')
			WHERE ref = $1`,
			w.changedBatches.refs[0], w.changedBatches.qtys[0], w.changedBatches.allocated[0], w.changedBatches.etas[0], w.changedBatches.changes[0])
		if err != nil {
			return fmt.Errorf("updating batch: %w", err)
		}
	default:
		_, err := tx.ExecContext(ctx, `UPDATE batches b
			SET purchased_quantity = u.qty, allocated_quantity = u.allocated, eta = NULLIF(u.eta, '')::date, last_change = NULLIF(u.change, '')
			FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[]) AS u(ref, qty, allocated, eta, change)
			WHERE b.ref = u.ref`,
			pq.StringArray(w.changedBatches.refs), pq.Int64Array(w.changedBatches.qtys),
			pq.Int64Array(w.changedBatches.allocated), pq.StringArray(w.changedBatches.etas), pq.StringArray(w.changedBatches.changes))
		if err != nil {
			return fmt.Errorf("updating batches: %w", err)
		}
	}
	// Deletes go first: a line may come back to the batch it left.
	if len(w.removedLines.orderIDs) > 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM allocations a
			USING unnest($1::text[], $2::text[]) AS d(batch_ref, orderid)
			WHERE a.batch_ref = d.batch_ref AND a.orderid = d.orderid`,
			pq.StringArray(w.removedLines.batchRefs), pq.StringArray(w.removedLines.orderIDs))
		if err != nil {
			return fmt.Errorf("deleting allocations: %w", err)
		}
	}
	switch len(w.addedLines.orderIDs) {
	case 0:
	case 1:
		// The usual change, one line allocated: a plain INSERT costs
		// PostgreSQL less to parse, plan and run than the unnest form.
		_, err := tx.ExecContext(ctx, `INSERT INTO allocations (batch_ref, orderid, sku, qty) VALUES ($1, $2, $3, $4)`,
			w.addedLines.batchRefs[0], w.addedLines.orderIDs[0], w.addedLines.skus[0], w.addedLines.qtys[0])
		if err != nil {
			return fmt.Errorf("inserting allocation: %w", err)
		}
	default:
		// Serial ids are drawn in ORDER BY order, which keeps the lines'
		// order.
		_, err := tx.ExecContext(ctx, `INSERT INTO allocations (batch_ref, orderid, sku, qty)
			SELECT batch_ref, orderid, sku, qty
			FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS n(batch_ref, orderid, sku, qty, position)
			ORDER BY position`,
			pq.StringArray(w.addedLines.batchRefs), pq.StringArray(w.addedLines.orderIDs),
			pq.StringArray(w.addedLines.skus), pq.Int64Array(w.addedLines.qtys))
		if err != nil {
			return fmt.Errorf("inserting allocations: %w", err)
		}
	}
	return nil
}

// insertBatches inserts new batches in order. A reference already taken,
// by any product, is reported as domain.DuplicateBatchError: ON CONFLICT
// DO NOTHING waits for a concurrent insert of the same reference to finish
// and skips the row if it committed, which RETURNING then shows.
func insertBatches(ctx context.Context, tx *sql.Tx, batches batchRows) error {
	if len(batches.refs) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO batches (ref, sku, purchased_quantity, allocated_quantity, eta, last_change)
		SELECT ref, sku, qty, allocated, NULLIF(eta, '')::date, NULLIF(change, '')
		FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS n(ref, sku, qty, allocated, eta, change, position)
		ORDER BY position
		ON CONFLICT (ref) DO NOTHING
		RETURNING ref`,
		pq.StringArray(batches.refs), pq.StringArray(batches.skus), pq.Int64Array(batches.qtys),
		pq.Int64Array(batches.allocated), pq.StringArray(batches.etas), pq.StringArray(batches.changes))
	if err != nil {
		return fmt.Errorf("inserting batches: %w", err)
	}
	defer rows.Close()
	inserted := make(map[string]bool, len(batches.refs))
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			return fmt.Errorf("inserting batches: %w", err)
		}
		inserted[ref] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inserting batches: %w", err)
	}
	for _, ref := range batches.refs {
		if !inserted[ref] {
			return domain.DuplicateBatchError{Ref: ref}
		}
	}
	return nil
}
