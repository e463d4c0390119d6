package app

import (
	"encoding/json"
	"errors"
	"fmt"

	"allocation/domain"
)

// ConcurrencyConflictError means the product changed since it was loaded.
// It is transient: running the command again on fresh state may succeed.
type ConcurrencyConflictError struct {
	SKU string
}

func (e ConcurrencyConflictError) Error() string {
	return fmt.Sprintf("concurrent update of product %s", e.SKU)
}

// PermanentError marks an error that no retry can fix (for example a
// message whose payload cannot be decoded).
type PermanentError struct{ Err error }

func (e PermanentError) Error() string { return e.Err.Error() }
func (e PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that IsPermanent reports true.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return PermanentError{Err: err}
}

// IsPermanent tells whether err is caused by the input rather than by the
// environment: such errors are never retried. Unknown errors are treated
// as transient, because retrying them is safe and parking them is not lost.
func IsPermanent(err error) bool {
	var (
		permanent   PermanentError
		validation  domain.ValidationError
		noProduct   domain.ProductNotFoundError
		noBatch     domain.BatchNotFoundError
		duplicate   domain.DuplicateBatchError
		outOfStock  domain.OutOfStockError
		mismatch    domain.SKUMismatchError
		stale       domain.StaleChangeError
		syntax      *json.SyntaxError
		unmarshal   *json.UnmarshalTypeError
		invalidJSON *json.InvalidUnmarshalError
	)
	return errors.As(err, &permanent) ||
		errors.As(err, &validation) ||
		errors.As(err, &noProduct) ||
		errors.As(err, &noBatch) ||
		errors.As(err, &duplicate) ||
		errors.As(err, &outOfStock) ||
		errors.As(err, &mismatch) ||
		errors.As(err, &stale) ||
		errors.As(err, &syntax) ||
		errors.As(err, &unmarshal) ||
		errors.As(err, &invalidJSON)
}

// UnavailableError means a dependency (the database, the broker) could not
// be reached or did not answer in time. It is transient: the same request
// succeeds once the dependency is back, so senders are told to try again
// and messages wait for it instead of being parked.
type UnavailableError struct {
	Dependency string
	Err        error
}

func (e UnavailableError) Error() string {
	return fmt.Sprintf("%s unavailable: %v", e.Dependency, e.Err)
}

func (e UnavailableError) Unwrap() error { return e.Err }

// IsUnavailable tells whether err comes from a dependency that is away.
func IsUnavailable(err error) bool { return errors.As(err, new(UnavailableError)) }
