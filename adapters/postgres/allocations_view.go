package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"allocation/adapters/internal/groupcommit"

	"allocation/app"
	"allocation/domain"
)

// PostgresAllocationsView is the allocations read model in the
// allocations_view table. A row per order line keeps the product version of
// the last event applied, so stale and repeated events change nothing
// (last writer by version wins), as in the in-memory view.
type PostgresAllocationsView struct {
	db      *sql.DB
	updates *groupcommit.Writer[viewUpdate]
}

// viewUpdate is one event's row; batchRef "" records a deallocation (NULL).
type viewUpdate struct {
	orderID, sku, batchRef string
	version                int
}

// viewWriteTimeout bounds one batch of read-model updates.
const viewWriteTimeout = 10 * time.Second

func NewPostgresAllocationsView(db *sql.DB) *PostgresAllocationsView {
	v := &PostgresAllocationsView{db: db}
	v.updates = groupcommit.New(viewWriteTimeout, v.write)
	return v
}

// upsertViewRow inserts the row or replaces it when the event is newer; the
// WHERE clause of DO UPDATE makes an older or equal version a no-op.
const upsertViewRow = `INSERT INTO allocations_view (orderid, sku, batchref, version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (orderid, sku) DO UPDATE
SET batchref = EXCLUDED.batchref, version = EXCLUDED.version
WHERE allocations_view.version < EXCLUDED.version`

// Allocated and Deallocated are written together with the updates other
// handlers make at the same time (groupcommit).
func (v *PostgresAllocationsView) Allocated(ctx context.Context, e domain.Allocated) error {
	if err := v.updates.Do(ctx, viewUpdate{orderID: e.OrderID, sku: e.SKU, batchRef: e.BatchRef, version: e.Version}); err != nil {
		return asUnavailable(fmt.Errorf("recording allocation of order %s: %w", e.OrderID, err))
	}
	return nil
}

func (v *PostgresAllocationsView) Deallocated(ctx context.Context, e domain.Deallocated) error {
	if err := v.updates.Do(ctx, viewUpdate{orderID: e.OrderID, sku: e.SKU, version: e.Version}); err != nil {
		return asUnavailable(fmt.Errorf("recording deallocation of order %s: %w", e.OrderID, err))
	}
	return nil
}

// upsertViewRows is upsertViewRow for several rows at once; no two of them
// may have the same key (ON CONFLICT cannot touch a row twice).
const upsertViewRows = `INSERT INTO allocations_view (orderid, sku, batchref, version)
SELECT orderid, sku, NULLIF(batchref, ''), version
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(orderid, sku, batchref, version)
ON CONFLICT (orderid, sku) DO UPDATE
SET batchref = EXCLUDED.batchref, version = EXCLUDED.version
WHERE allocations_view.version < EXCLUDED.version`

// write applies a batch of updates in one statement. Of two updates of one
// row only the newer counts, as it would if they were applied one by one.
func (v *PostgresAllocationsView) write(ctx context.Context, updates []viewUpdate) error {
	if len(updates) == 1 {
		u := updates[0]
		var batchRef any
		if u.batchRef != "" {
			batchRef = u.batchRef
		}
		_, err := v.db.ExecContext(ctx, upsertViewRow, u.orderID, u.sku, batchRef, u.version)
		return err
	}
	newest := make(map[[2]string]int, len(updates))
	var orderIDs, skus, batchRefs []string
	var versions []int64
	for _, u := range updates {
		key := [2]string{u.orderID, u.sku}
		if i, seen := newest[key]; seen {
			if int64(u.version) > versions[i] {
				batchRefs[i], versions[i] = u.batchRef, int64(u.version)
			}
			continue
		}
		newest[key] = len(orderIDs)
		orderIDs, skus = append(orderIDs, u.orderID), append(skus, u.sku)
		batchRefs, versions = append(batchRefs, u.batchRef), append(versions, int64(u.version))
	}
	_, err := v.db.ExecContext(ctx, upsertViewRows,
		pq.StringArray(orderIDs), pq.StringArray(skus), pq.StringArray(batchRefs), pq.Int64Array(versions))
	return err
}

// AllocationsFor sorts by sku in byte order (COLLATE "C"), as Go sorts
// strings, whatever the database's collation. It returns at ctx's deadline
// even when the database does not answer (see untilDone).
func (v *PostgresAllocationsView) AllocationsFor(ctx context.Context, orderID string) ([]app.Allocation, error) {
	var out []app.Allocation
	err := untilDone(ctx, func() error {
		var err error
		out, err = v.readAllocations(ctx, orderID)
		return err
	})
	if err != nil {
		return nil, asUnavailable(fmt.Errorf("reading allocations of order %s: %w", orderID, err))
	}
	return out, nil
}

func (v *PostgresAllocationsView) readAllocations(ctx context.Context, orderID string) ([]app.Allocation, error) {
	rows, err := v.db.QueryContext(ctx, `SELECT sku, batchref FROM allocations_view
		WHERE orderid = $1 AND batchref IS NOT NULL AND batchref <> ''
		ORDER BY sku COLLATE "C"`, orderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []app.Allocation
	for rows.Next() {
		var a app.Allocation
		if err := rows.Scan(&a.SKU, &a.BatchRef); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
