package domain

import "fmt"

// Event is a fact the domain recorded. Key identifies the fact: the same
// fact always has the same key, so it can serve as a de-duplication id.
type Event interface {
	Key() string
}

// Allocated: a line was allocated to a batch. Version is the product's
// version after the change; read models use it to ignore stale events.
type Allocated struct {
	OrderID  string `json:"orderid"`
	SKU      string `json:"sku"`
	Qty      int    `json:"qty"`
	BatchRef string `json:"batchref"`
	Version  int    `json:"version"`
}

func (e Allocated) Key() string {
	return fmt.Sprintf("Allocated/%q/%q/%q/%d", e.SKU, e.OrderID, e.BatchRef, e.Version)
}

// Deallocated: a line was taken off a batch whose quantity shrank and needs
// allocating again (the book's AllocationRequired). It names the batch it
// left, with the fields of Allocated.
type Deallocated Allocated

func (e Deallocated) Key() string {
	return fmt.Sprintf("Deallocated/%q/%q/%q/%d", e.SKU, e.OrderID, e.BatchRef, e.Version)
}

// OutOfStock: no batch of the product could take a line.
type OutOfStock struct {
	SKU     string `json:"sku"`
	OrderID string `json:"orderid"`
	Qty     int    `json:"qty"`
	Version int    `json:"version"`
}

func (e OutOfStock) Key() string {
	return fmt.Sprintf("OutOfStock/%q/%q/%d/%d", e.SKU, e.OrderID, e.Qty, e.Version)
}
