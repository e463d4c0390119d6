package postgres

import (
	"errors"
	"fmt"

	"github.com/lib/pq"

	"allocation/app"
)

// PostgreSQL error codes that mean "run the command again".
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// asConflict reports serialisation failures and deadlocks as a concurrency
// conflict on sku: like a stale version, they clear when the command runs
// again on fresh state. The cause stays in the chain.
func asConflict(err error, sku string) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == serializationFailure || pqErr.Code == deadlockDetected) {
		return fmt.Errorf("%w: %w", app.ConcurrencyConflictError{SKU: sku}, err)
	}
	return err
}
