package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"allocation/domain"
)

// A product is loaded for a write in two statements. The first locks its
// row, so that commands on one product from several processes take turns
// instead of failing their version check. The second reads its batches,
// with their allocated totals, and only the lines the command needs; it is
// a statement of its own because under READ COMMITTED it then sees what the
// transaction that held the lock before committed.
const (
	lockProductBySKU      = `SELECT sku, version_number FROM products WHERE sku = $1 FOR UPDATE`
	lockProductByBatchRef = `SELECT sku, version_number FROM products WHERE sku = (SELECT sku FROM batches WHERE ref = $1) FOR UPDATE`

	selectBatches = `
SELECT b.ref, b.purchased_quantity, b.eta, b.allocated_quantity, a.orderid, a.sku, a.qty
FROM batches b
`
	// The lines of some orders: one index lookup per batch and order.
	selectBatchesWithLinesOfOrders = selectBatches + `LEFT JOIN allocations a ON a.batch_ref = b.ref AND a.orderid = ANY($2::text[])
WHERE b.sku = $1 ORDER BY b.id, a.id`
	// Every line of one batch: what shrinking it may deallocate.
	selectBatchesWithLinesOfBatch = selectBatches + `LEFT JOIN allocations a ON a.batch_ref = b.ref AND b.ref = $2
WHERE b.sku = $1 ORDER BY b.id, a.id`
)

// loadProductBySKU locks and loads the product with the lines of orderIDs.
func loadProductBySKU(ctx context.Context, tx *sql.Tx, sku string, orderIDs []string) (*domain.Product, bool, error) {
	version, found, err := lockProduct(ctx, tx, lockProductBySKU, sku, &sku)
	if err != nil || !found {
		return nil, found, err
	}
	p, err := loadBatches(ctx, tx, sku, version, selectBatchesWithLinesOfOrders, pq.StringArray(orderIDs))
	return p, err == nil, err
}

// loadProductByBatchRef locks and loads the product owning the batch, with
// every line of that batch.
func loadProductByBatchRef(ctx context.Context, tx *sql.Tx, ref string) (*domain.Product, bool, error) {
	var sku string
	version, found, err := lockProduct(ctx, tx, lockProductByBatchRef, ref, &sku)
	if err != nil || !found {
		return nil, found, err
	}
	p, err := loadBatches(ctx, tx, sku, version, selectBatchesWithLinesOfBatch, ref)
	return p, err == nil, err
}

func lockProduct(ctx context.Context, tx *sql.Tx, query, arg string, sku *string) (version int, found bool, err error) {
	err = tx.QueryRowContext(ctx, query, arg).Scan(sku, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("locking product: %w", err)
	}
	return version, true, nil
}

// batchRow is one row of selectBatches; line columns are NULL for a batch
// without the lines asked for.
type batchRow struct {
	ref       string
	purchased int
	eta       sql.NullTime
	allocated int
	orderID   sql.NullString
	lineSKU   sql.NullString
	lineQty   sql.NullInt64
}

func loadBatches(ctx context.Context, tx *sql.Tx, sku string, version int, query string, lines any) (*domain.Product, error) {
	rows, err := tx.QueryContext(ctx, query, sku, lines)
	if err != nil {
		return nil, fmt.Errorf("loading product %s: %w", sku, err)
	}
	defer rows.Close()

	var (
		batches []*domain.Batch
		current *batchBuilder
	)
	for rows.Next() {
		var r batchRow
		if err := rows.Scan(&r.ref, &r.purchased, &r.eta, &r.allocated, &r.orderID, &r.lineSKU, &r.lineQty); err != nil {
			return nil, fmt.Errorf("reading product %s: %w", sku, err)
		}
		if current == nil || current.ref != r.ref {
			if current != nil {
				b, err := current.build()
				if err != nil {
					return nil, err
				}
				batches = append(batches, b)
			}
			current = newBatchBuilder(sku, r)
		}
		if r.orderID.Valid {
			line, err := domain.NewOrderLine(r.orderID.String, r.lineSKU.String, int(r.lineQty.Int64))
			if err != nil {
				return nil, fmt.Errorf("stored line of order %s in batch %s: %w", r.orderID.String, current.ref, err)
			}
			current.lines = append(current.lines, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading product %s: %w", sku, err)
	}
	if current != nil {
		b, err := current.build()
		if err != nil {
			return nil, err
		}
		batches = append(batches, b)
	}
	product, err := domain.UnmarshalProductFromDatabase(sku, version, batches)
	if err != nil {
		return nil, fmt.Errorf("stored product %s: %w", sku, err)
	}
	return product, nil
}

// batchBuilder collects the lines of one batch across rows.
type batchBuilder struct {
	ref       string
	sku       string
	purchased int
	allocated int
	eta       *time.Time
	lines     []domain.OrderLine
}

func newBatchBuilder(sku string, r batchRow) *batchBuilder {
	b := &batchBuilder{ref: r.ref, sku: sku, purchased: r.purchased, allocated: r.allocated}
	if r.eta.Valid {
		eta := r.eta.Time
		b.eta = &eta
	}
	return b
}

func (b *batchBuilder) build() (*domain.Batch, error) {
	batch, err := domain.UnmarshalBatchFromDatabase(b.ref, b.sku, b.purchased, b.eta, b.allocated, b.lines)
	if err != nil {
		return nil, fmt.Errorf("stored batch %s: %w", b.ref, err)
	}
	return batch, nil
}
