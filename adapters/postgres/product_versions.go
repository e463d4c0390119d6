package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"allocation/app"
)

// writeProductRow inserts a new product or moves a loaded one to its new
// version. A loaded product is locked, so the version check cannot fail in
// this store; it stays as a guard against a change that bypassed the lock.
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
	return productWritten(sku, res, err)
}

// productWritten checks a statement that moves a product's row: no row
// written means the version moved, a concurrency conflict.
func productWritten(sku string, res sql.Result, err error) error {
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
