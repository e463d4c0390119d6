package domain

import "fmt"

// ErrorKind says what an error means to the sender of the request that
// failed, so that each port maps kinds, not error types, to its answers
// (an HTTP status; retrying or parking a message).
type ErrorKind int

const (
	// KindInternal is any error not known to be of another kind: a fault
	// of the service, which a retry may or may not get past.
	KindInternal ErrorKind = iota
	// KindInvalid: the request is wrong; sending it again cannot help.
	KindInvalid
	// KindNotFound: the request names something that does not exist.
	KindNotFound
	// KindConflict: the request contradicts the state it meets.
	KindConflict
	// KindUnavailable: the request is fine but cannot be served now; the
	// same request may succeed later.
	KindUnavailable
)

// ValidationError reports a value the domain refuses, naming the field so that
// callers (HTTP, message consumers) can tell the user what to fix.
type ValidationError struct {
	Field  string
	Reason string
}

func (ValidationError) Kind() ErrorKind { return KindInvalid }
func (e ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// ProductNotFoundError is the book's InvalidSku: no product exists for the sku.
type ProductNotFoundError struct{ SKU string }

func (ProductNotFoundError) Kind() ErrorKind { return KindInvalid }
func (e ProductNotFoundError) Error() string { return fmt.Sprintf("Invalid sku %s", e.SKU) }

// BatchNotFoundError means no batch has the reference.
type BatchNotFoundError struct{ Ref string }

func (BatchNotFoundError) Kind() ErrorKind { return KindNotFound }
func (e BatchNotFoundError) Error() string { return fmt.Sprintf("Unknown batch %s", e.Ref) }

// DuplicateBatchError means a batch with the reference already exists.
type DuplicateBatchError struct{ Ref string }

func (DuplicateBatchError) Kind() ErrorKind { return KindConflict }
func (e DuplicateBatchError) Error() string { return fmt.Sprintf("Batch %s already exists", e.Ref) }

// OutOfStockError means no batch of the product can take the line. The
// product still records an OutOfStock event, so the caller should commit.
type OutOfStockError struct{ SKU string }

func (OutOfStockError) Kind() ErrorKind { return KindConflict }
func (e OutOfStockError) Error() string { return fmt.Sprintf("Out of stock for sku %s", e.SKU) }

// StaleChangeError means a batch quantity change came after a newer one
// had been applied: applying it would undo the newer one.
type StaleChangeError struct {
	Ref      string
	Sequence string
	Applied  string
}

func (StaleChangeError) Kind() ErrorKind { return KindConflict }
func (e StaleChangeError) Error() string {
	return fmt.Sprintf("change of batch %s at %s is older than the change applied at %s", e.Ref, e.Sequence, e.Applied)
}

// SKUMismatchError means a line was offered to a batch of another product.
type SKUMismatchError struct{ BatchSKU, LineSKU string }

func (SKUMismatchError) Kind() ErrorKind { return KindInvalid }
func (e SKUMismatchError) Error() string {
	return fmt.Sprintf("sku %s does not match batch sku %s", e.LineSKU, e.BatchSKU)
}
