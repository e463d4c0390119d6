package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"allocation/app"
	"allocation/domain"
)

// PostgresAllocationsView is the allocations read model in the
// allocations_view table. A row per order line keeps the product version of
// the last event applied, so stale and repeated events change nothing
// (last writer by version wins), as in the in-memory view.
type PostgresAllocationsView struct {
	db *sql.DB
}

func NewPostgresAllocationsView(db *sql.DB) *PostgresAllocationsView {
	return &PostgresAllocationsView{db: db}
}

// upsertViewRow inserts the row or replaces it when the event is newer; the
// WHERE clause of DO UPDATE makes an older or equal version a no-op.
const upsertViewRow = `INSERT INTO allocations_view (orderid, sku, batchref, version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (orderid, sku) DO UPDATE
SET batchref = EXCLUDED.batchref, version = EXCLUDED.version
WHERE allocations_view.version < EXCLUDED.version`

func (v *PostgresAllocationsView) Allocated(ctx context.Context, e domain.Allocated) error {
	if _, err := v.db.ExecContext(ctx, upsertViewRow, e.OrderID, e.SKU, e.BatchRef, e.Version); err != nil {
		return fmt.Errorf("recording allocation of order %s: %w", e.OrderID, err)
	}
	return nil
}

func (v *PostgresAllocationsView) Deallocated(ctx context.Context, e domain.Deallocated) error {
	if _, err := v.db.ExecContext(ctx, upsertViewRow, e.OrderID, e.SKU, nil, e.Version); err != nil {
		return fmt.Errorf("recording deallocation of order %s: %w", e.OrderID, err)
	}
	return nil
}

// AllocationsFor sorts by sku in byte order (COLLATE "C"), as Go sorts
// strings, whatever the database's collation.
func (v *PostgresAllocationsView) AllocationsFor(ctx context.Context, orderID string) ([]app.Allocation, error) {
	rows, err := v.db.QueryContext(ctx, `SELECT sku, batchref FROM allocations_view
		WHERE orderid = $1 AND batchref IS NOT NULL AND batchref <> ''
		ORDER BY sku COLLATE "C"`, orderID)
	if err != nil {
		return nil, fmt.Errorf("reading allocations of order %s: %w", orderID, err)
	}
	defer rows.Close()
	var out []app.Allocation
	for rows.Next() {
		var a app.Allocation
		if err := rows.Scan(&a.SKU, &a.BatchRef); err != nil {
			return nil, fmt.Errorf("reading allocations of order %s: %w", orderID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading allocations of order %s: %w", orderID, err)
	}
	return out, nil
}
