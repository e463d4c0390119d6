package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"allocation/domain"
)

// ErrorKind is domain.ErrorKind: the one taxonomy of errors, which each
// port maps once (an HTTP status; retrying or parking a message).
type ErrorKind = domain.ErrorKind

// KindOf returns the kind of the first error in err's chain that has one.
// Decoding errors are invalid input; a request that ran out of time or was
// given up waited for something, so it may succeed later. Anything else
// is internal.
func KindOf(err error) ErrorKind {
	var kinded interface{ Kind() ErrorKind }
	var (
		syntax      *json.SyntaxError
		unmarshal   *json.UnmarshalTypeError
		invalidJSON *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &kinded):
		return kinded.Kind()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return domain.KindUnavailable
	case errors.As(err, &syntax), errors.As(err, &unmarshal), errors.As(err, &invalidJSON):
		return domain.KindInvalid
	}
	return domain.KindInternal
}

// IsPermanent tells whether err is caused by the input rather than by the
// environment: such errors are never retried. Internal errors are treated
// as transient, because retrying them is safe and parking them is not lost.
func IsPermanent(err error) bool {
	switch KindOf(err) {
	case domain.KindInvalid, domain.KindNotFound, domain.KindConflict:
		return true
	}
	return false
}

// IsUnavailable tells whether err comes from a dependency that is away: a
// narrower question than KindUnavailable, which also holds for a conflict
// and for shutting down, where waiting for the dependency would not help.
func IsUnavailable(err error) bool { return errors.As(err, new(UnavailableError)) }

// ConcurrencyConflictError means the product changed since it was loaded.
// It is transient: running the command again on fresh state may succeed.
type ConcurrencyConflictError struct {
	SKU string
}

func (ConcurrencyConflictError) Kind() ErrorKind { return domain.KindUnavailable }

func (e ConcurrencyConflictError) Error() string {
	return fmt.Sprintf("concurrent update of product %s", e.SKU)
}

// PermanentError marks an error that no retry can fix (for example a
// message whose payload cannot be decoded).
type PermanentError struct{ Err error }

func (PermanentError) Kind() ErrorKind { return domain.KindInvalid }
func (e PermanentError) Error() string { return e.Err.Error() }
func (e PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that IsPermanent reports true.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return PermanentError{Err: err}
}

// UnavailableError means a dependency (the database, the broker) could not
// be reached or did not answer in time. It is transient: the same request
// succeeds once the dependency is back, so senders are told to try again
// and messages wait for it instead of being parked.
type UnavailableError struct {
	Dependency string
	Err        error
}

func (UnavailableError) Kind() ErrorKind { return domain.KindUnavailable }

func (e UnavailableError) Error() string {
	return fmt.Sprintf("%s unavailable: %v", e.Dependency, e.Err)
}

func (e UnavailableError) Unwrap() error { return e.Err }

// ShuttingDownError refuses a command that arrives after the service began
// to shut down. It is transient: another process, or this one restarted,
// will take it.
type ShuttingDownError struct{}

func (ShuttingDownError) Kind() ErrorKind { return domain.KindUnavailable }
func (ShuttingDownError) Error() string   { return "the service is shutting down" }

// The poison queue's errors (poison.go) answer the admin port's requests.
func (PoisonCursorError) Kind() ErrorKind         { return domain.KindInvalid }
func (UnknownParkedMessageError) Kind() ErrorKind { return domain.KindNotFound }
