package tests

import (
	"database/sql"
	"fmt"
	"testing"
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
