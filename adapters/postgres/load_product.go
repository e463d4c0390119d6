package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"allocation/domain"
)

// A product is loaded in one query: the product joined with its batches and
// their lines, in insertion order. Batch columns repeat on every line of the
// batch, which costs less than a round trip per batch.
const selectProduct = `
SELECT p.sku, p.version_number, b.ref, b.purchased_quantity, b.eta, a.orderid, a.sku, a.qty
FROM products p
LEFT JOIN batches b ON b.sku = p.sku
LEFT JOIN allocations a ON a.batch_ref = b.ref
`

const (
	selectProductBySKU      = selectProduct + `WHERE p.sku = $1 ORDER BY b.id, a.id`
	selectProductByBatchRef = selectProduct + `WHERE p.sku = (SELECT sku FROM batches WHERE ref = $1) ORDER BY b.id, a.id`
)

// productRow is one row of selectProduct; batch and line columns are NULL
// for a product without batches or a batch without lines.
type productRow struct {
	sku       string
	version   int
	batchRef  sql.NullString
	purchased sql.NullInt64
	eta       sql.NullTime
	orderID   sql.NullString
	lineSKU   sql.NullString
	lineQty   sql.NullInt64
}

// loadProduct runs one of the selectProduct queries; found is false when
// it returns no row.
func loadProduct(ctx context.Context, tx *sql.Tx, query string, arg string) (product *domain.Product, found bool, err error) {
	rows, err := tx.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, false, fmt.Errorf("loading product: %w", err)
	}
	defer rows.Close()

	var (
		sku     string
		version int
		batches []*domain.Batch
		current *batchBuilder
	)
	for rows.Next() {
		var r productRow
		if err := rows.Scan(&r.sku, &r.version, &r.batchRef, &r.purchased, &r.eta, &r.orderID, &r.lineSKU, &r.lineQty); err != nil {
			return nil, false, fmt.Errorf("reading product: %w", err)
		}
		found, sku, version = true, r.sku, r.version
		if !r.batchRef.Valid {
			continue
		}
		if current == nil || current.ref != r.batchRef.String {
			if current != nil {
				b, err := current.build()
				if err != nil {
					return nil, false, err
				}
				batches = append(batches, b)
			}
			current = newBatchBuilder(r)
		}
		if r.orderID.Valid {
			line, err := domain.NewOrderLine(r.orderID.String, r.lineSKU.String, int(r.lineQty.Int64))
			if err != nil {
				return nil, false, fmt.Errorf("stored line of order %s in batch %s: %w", r.orderID.String, current.ref, err)
			}
			current.lines = append(current.lines, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("reading product: %w", err)
	}
	if !found {
		return nil, false, nil
	}
	if current != nil {
		b, err := current.build()
		if err != nil {
			return nil, false, err
		}
		batches = append(batches, b)
	}
	product, err = domain.UnmarshalProductFromDatabase(sku, version, batches)
	if err != nil {
		return nil, false, fmt.Errorf("stored product %s: %w", sku, err)
	}
	return product, true, nil
}

// batchBuilder collects the lines of one batch across rows.
type batchBuilder struct {
	ref       string
	sku       string
	purchased int
	eta       *time.Time
	lines     []domain.OrderLine
}

func newBatchBuilder(r productRow) *batchBuilder {
	b := &batchBuilder{ref: r.batchRef.String, sku: r.sku, purchased: int(r.purchased.Int64)}
	if r.eta.Valid {
		eta := r.eta.Time
		b.eta = &eta
	}
	return b
}

func (b *batchBuilder) build() (*domain.Batch, error) {
	batch, err := domain.UnmarshalBatchFromDatabase(b.ref, b.sku, b.purchased, b.eta, b.lines)
	if err != nil {
		return nil, fmt.Errorf("stored batch %s: %w", b.ref, err)
	}
	return batch, nil
}
