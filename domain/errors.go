package domain

import "fmt"

// ValidationError reports a value the domain refuses, naming the field so that
// callers (HTTP, message consumers) can tell the user what to fix.
type ValidationError struct {
	Field  string
	Reason string
}

func (e ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// ProductNotFoundError is the book's InvalidSku: no product exists for the sku.
type ProductNotFoundError struct{ SKU string }

func (e ProductNotFoundError) Error() string { return fmt.Sprintf("Invalid sku %s", e.SKU) }

// BatchNotFoundError means no batch has the reference.
type BatchNotFoundError struct{ Ref string }

func (e BatchNotFoundError) Error() string { return fmt.Sprintf("Unknown batch %s", e.Ref) }

// DuplicateBatchError means a batch with the reference already exists.
type DuplicateBatchError struct{ Ref string }

func (e DuplicateBatchError) Error() string { return fmt.Sprintf("Batch %s already exists", e.Ref) }

// OutOfStockError means no batch of the product can take the line. The
// product still records an OutOfStock event, so the caller should commit.
type OutOfStockError struct{ SKU string }

func (e OutOfStockError) Error() string { return fmt.Sprintf("Out of stock for sku %s", e.SKU) }

// StaleChangeError means a batch quantity change came after a newer one
// had been applied: applying it would undo the newer one.
type StaleChangeError struct {
	Ref      string
	Sequence string
	Applied  string
}

func (e StaleChangeError) Error() string {
	return fmt.Sprintf("change of batch %s at %s is older than the change applied at %s", e.Ref, e.Sequence, e.Applied)
}

// SKUMismatchError means a line was offered to a batch of another product.
type SKUMismatchError struct{ BatchSKU, LineSKU string }

func (e SKUMismatchError) Error() string {
	return fmt.Sprintf("sku %s does not match batch sku %s", e.LineSKU, e.BatchSKU)
}
