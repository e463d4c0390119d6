package tests

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/lib/pq"
)

// storedAllocations reads the allocations the store holds, orderid ->
// batch ref, of one sku or ("" ) of all; an order stored twice fails the
// test.
func storedAllocations(t *testing.T, db *sql.DB, sku string) map[string]string {
	t.Helper()
	stored := map[string]string{}
	rows, err := db.QueryContext(t.Context(), `SELECT orderid, batch_ref FROM allocations WHERE $1 = '' OR sku = $1`, sku)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var order, ref string
		if err := rows.Scan(&order, &ref); err != nil {
			t.Fatal(err)
		}
		if prev, dup := stored[order]; dup {
			t.Errorf("order %s allocated twice: on %s and %s", order, prev, ref)
		}
		stored[order] = ref
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return stored
}

// overAllocatedBatches names the batches, of one sku or ("") of all, whose
// stored lines add up to more than the batch holds.
func overAllocatedBatches(t *testing.T, db *sql.DB, sku string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT b.ref, b.purchased_quantity, sum(a.qty)
		FROM batches b JOIN allocations a ON a.batch_ref = b.ref
		WHERE $1 = '' OR b.sku = $1
		GROUP BY b.ref, b.purchased_quantity HAVING sum(a.qty) > b.purchased_quantity`, sku)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var over []string
	for rows.Next() {
		var (
			ref                  string
			purchased, allocated int
		)
		if err := rows.Scan(&ref, &purchased, &allocated); err != nil {
			t.Fatal(err)
		}
		over = append(over, fmt.Sprintf("%s holds %d of its %d units", ref, allocated, purchased))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return over
}

// linesOnBatches names the batches among refs that hold an order line.
func linesOnBatches(t *testing.T, db *sql.DB, refs []string) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT DISTINCT batch_ref FROM allocations WHERE batch_ref = ANY($1)`, pq.StringArray(refs))
}

// queryStrings runs a query of one text column and returns its values.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var values []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return values
}

// batchesAtQuantity tells whether every batch of refs has qty units.
func batchesAtQuantity(t *testing.T, db *sql.DB, refs []string, qty int) bool {
	t.Helper()
	var others int
	err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM batches WHERE ref = ANY($1) AND purchased_quantity <> $2`, pq.StringArray(refs), qty).Scan(&others)
	if err != nil {
		t.Fatal(err)
	}
	return others == 0
}

// purchasedQuantity is a batch's quantity in the database (-1 if none).
func purchasedQuantity(t *testing.T, db *sql.DB, ref string) int {
	t.Helper()
	qty := -1
	err := db.QueryRowContext(t.Context(), `SELECT purchased_quantity FROM batches WHERE ref = $1`, ref).Scan(&qty)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return qty
}

// lockProduct takes the row lock of sku's product in a transaction of the
// test's own, rolled back when the test ends unless committed before, so
// that a request for the product waits inside its transaction; pid is the
// session that holds the lock.
func lockProduct(t *testing.T, db *sql.DB, sku string) (lock *sql.Tx, pid int) {
	t.Helper()
	lock, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Rollback() })
	if err := lock.QueryRow(`SELECT pg_backend_pid() FROM products WHERE sku = $1 FOR UPDATE`, sku).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return lock, pid
}

// sessionsBlockedBy counts sessions waiting on a lock held by backend pid.
func sessionsBlockedBy(t *testing.T, db *sql.DB, pid int) int {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
