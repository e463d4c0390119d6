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

// A product is loaded for a write in one statement that also locks its row,
// so that commands on one product from several processes take turns
// instead of failing their version check. Under READ COMMITTED a statement
// that waited for the lock returns the product row as the other
// transaction committed it, but batches and lines as they were when the
// statement began. read_version, read at the start, tells: when it differs
// from the locked version the statement runs again, and now, holding the
// lock, sees everything committed. Batches come with their allocated
// totals and only the lines the command needs.
const (
	selectProductForUpdate = `
SELECT p.sku, p.version_number, (SELECT version_number FROM products WHERE sku = p.sku) AS read_version,
       b.ref, b.purchased_quantity, b.eta, b.allocated_quantity, b.last_change, a.orderid, a.sku, a.qty
FROM products p
LEFT JOIN batches b ON b.sku = p.sku
`
	// The lines of some orders: one index lookup per batch and order.
	selectProductWithLinesOfOrders = selectProductForUpdate + `LEFT JOIN allocations a ON a.batch_ref = b.ref AND a.orderid = ANY($2::text[])
WHERE p.sku = $1 ORDER BY b.id, a.id FOR UPDATE OF p`
	// Every line of one batch: what shrinking it may deallocate.
	selectProductWithLinesOfBatch = selectProductForUpdate + `LEFT JOIN allocations a ON a.batch_ref = b.ref AND b.ref = $1
WHERE p.sku = (SELECT sku FROM batches WHERE ref = $1) ORDER BY b.id, a.id FOR UPDATE OF p`
)

// loadProductBySKU locks and loads the product with the lines of orderIDs.
func loadProductBySKU(ctx context.Context, tx *sql.Tx, sku string, orderIDs []string) (*domain.Product, bool, error) {
	return loadProductForUpdate(ctx, tx, selectProductWithLinesOfOrders, sku, pq.StringArray(orderIDs))
}

// loadProductByBatchRef locks and loads the product owning the batch, with
// every line of that batch.
func loadProductByBatchRef(ctx context.Context, tx *sql.Tx, ref string) (*domain.Product, bool, error) {
	return loadProductForUpdate(ctx, tx, selectProductWithLinesOfBatch, ref)
}

func loadProductForUpdate(ctx context.Context, tx *sql.Tx, query string, args ...any) (*domain.Product, bool, error) {
	for range 2 {
		product, found, stale, err := readProduct(ctx, tx, query, args...)
		if err != nil || !found || !stale {
			return product, found, err
		}
	}
	return nil, false, errors.New("loading product: still changing while locked")
}

// productRow is one row of selectProductForUpdate; batch and line columns
// are NULL for a product without batches or a batch without the lines
// asked for.
type productRow struct {
	sku         string
	version     int
	readVersion int
	batchRef    sql.NullString
	purchased   sql.NullInt64
	eta         sql.NullTime
	allocated   sql.NullInt64
	lastChange  sql.NullString
	orderID     sql.NullString
	lineSKU     sql.NullString
	lineQty     sql.NullInt64
}

// readProduct runs one of the selectProductForUpdate queries; found is false
// when it returns no row, stale when it waited for a transaction that
// changed the product.
func readProduct(ctx context.Context, tx *sql.Tx, query string, args ...any) (product *domain.Product, found, stale bool, err error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, false, fmt.Errorf("loading product: %w", err)
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
		if err := rows.Scan(&r.sku, &r.version, &r.readVersion, &r.batchRef, &r.purchased, &r.eta, &r.allocated, &r.lastChange, &r.orderID, &r.lineSKU, &r.lineQty); err != nil {
			return nil, false, false, fmt.Errorf("reading product: %w", err)
		}
		found, sku, version = true, r.sku, r.version
		stale = stale || r.version != r.readVersion
		if !r.batchRef.Valid {
			continue
		}
		if current == nil || current.ref != r.batchRef.String {
			if current != nil {
				b, err := current.build()
				if err != nil {
					return nil, false, false, err
				}
				batches = append(batches, b)
			}
			current = newBatchBuilder(r)
		}
		if r.orderID.Valid {
			line, err := domain.NewOrderLine(r.orderID.String, r.lineSKU.String, int(r.lineQty.Int64))
			if err != nil {
				return nil, false, false, fmt.Errorf("stored line of order %s in batch %s: %w", r.orderID.String, current.ref, err)
			}
			current.lines = append(current.lines, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, false, fmt.Errorf("reading product: %w", err)
	}
	if !found || stale {
		return nil, found, stale, nil
	}
	if current != nil {
		b, err := current.build()
		if err != nil {
			return nil, false, false, err
		}
		batches = append(batches, b)
	}
	product, err = domain.UnmarshalProductFromDatabase(sku, version, batches)
	if err != nil {
		return nil, false, false, fmt.Errorf("stored product %s: %w", sku, err)
	}
	return product, true, false, nil
}

// batchBuilder collects the lines of one batch across rows.
type batchBuilder struct {
	ref        string
	sku        string
	purchased  int
	allocated  int
	lastChange string
	eta        *time.Time
	lines      []domain.OrderLine
}

func newBatchBuilder(r productRow) *batchBuilder {
	b := &batchBuilder{ref: r.batchRef.String, sku: r.sku, purchased: int(r.purchased.Int64), allocated: int(r.allocated.Int64), lastChange: r.lastChange.String}
	if r.eta.Valid {
		eta := r.eta.Time
		b.eta = &eta
	}
	return b
}

func (b *batchBuilder) build() (*domain.Batch, error) {
	batch, err := domain.UnmarshalBatchFromDatabase(b.ref, b.sku, b.purchased, b.eta, b.allocated, b.lines, b.lastChange)
	if err != nil {
		return nil, fmt.Errorf("stored batch %s: %w", b.ref, err)
	}
	return batch, nil
}
