package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"

	"allocation/app"
)

// writeProductRow inserts a new product or moves a loaded one to its new
// version, provided nobody else has moved it since it was loaded. Under
// READ COMMITTED a concurrent UPDATE waits for the other commit and then
// re-checks the WHERE clause against the committed row, so exactly one of
// two racing commits matches.
func writeProductRow(ctx context.Context, tx *sql.Tx, s *seenProduct) error {
	sku := s.product.SKU()
	var (
		res sql.Result
		err error
	)
	if s.isNew {
		res, err = tx.ExecContext(ctx, `INSERT INTO products (sku, version_number) VALUES ($1, $2) ON CONFLICT (sku) DO NOTHING`,
			sku, s.product.Version())
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE products SET version_number = $3 WHERE sku = $1 AND version_number = $2`,
			sku, s.loadedVersion, s.product.Version())
	}
	if err != nil {
		return fmt.Errorf("writing product %s: %w", sku, asConflict(err, sku))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("writing product %s: %w", sku, err)
	}
	if n == 0 {
		return app.ConcurrencyConflictError{SKU: sku}
	}
	return nil
}

// checkUnchanged fails when a product the transaction read but did not
// change has moved since it was loaded: its recorded events (OutOfStock)
// and the caller's decisions were based on that state. The in-memory store
// checks the same.
func checkUnchanged(ctx context.Context, tx *sql.Tx, products []*seenProduct) error {
	switch len(products) {
	case 0:
		return nil
	case 1:
		// The usual case (a line out of stock): the plain form is cheaper
		// for PostgreSQL than the unnest join below.
		s := products[0]
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM products WHERE sku = $1 AND version_number = $2`,
			s.product.SKU(), s.loadedVersion).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return app.ConcurrencyConflictError{SKU: s.product.SKU()}
		case err != nil:
			return fmt.Errorf("checking product version: %w", asConflict(err, s.product.SKU()))
		}
		return nil
	}
	skus := make([]string, 0, len(products))
	versions := make([]int64, 0, len(products))
	for _, s := range products {
		skus = append(skus, s.product.SKU())
		versions = append(versions, int64(s.loadedVersion))
	}
	var stale string
	err := tx.QueryRowContext(ctx, `SELECT s.sku
		FROM unnest($1::text[], $2::int[]) AS s(sku, version)
		LEFT JOIN products p ON p.sku = s.sku AND p.version_number = s.version
		WHERE p.sku IS NULL
		LIMIT 1`, pq.StringArray(skus), pq.Int64Array(versions)).Scan(&stale)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("checking product versions: %w", asConflict(err, skus[0]))
	default:
		return app.ConcurrencyConflictError{SKU: stale}
	}
}
