package domain

import (
	"slices"
	"time"
)

// Batch is stock of one sku ordered by the purchasing department. A batch
// with no eta is warehouse stock; one with an eta is a shipment on its way.
type Batch struct {
	ref       string
	sku       string
	purchased int
	eta       *time.Time
	// allocations keeps insertion order so that deallocation is
	// deterministic: the most recently allocated line goes first. A batch
	// loaded from storage holds the lines its command needs, not always
	// all of them; allocated counts them all.
	allocations []OrderLine
	// lastChange is the Sequence of the last quantity change applied.
	lastChange string
	// allocated is the sum of the quantities of all the batch's lines,
	// including those a repository did not load (see
	// UnmarshalBatchFromDatabase).
	allocated int
}

// NewBatch validates and builds an empty batch (see limits.go). eta may
// be nil.
func NewBatch(ref, sku string, qty int, eta *time.Time) (*Batch, error) {
	if err := ValidateIdentifier("ref", ref); err != nil {
		return nil, err
	}
	if err := ValidateIdentifier("sku", sku); err != nil {
		return nil, err
	}
	if err := ValidateQuantity("qty", qty, 1); err != nil {
		return nil, err
	}
	if err := ValidateETA(eta); err != nil {
		return nil, err
	}
	return &Batch{ref: ref, sku: sku, purchased: qty, eta: truncateDate(eta)}, nil
}

// UnmarshalBatchFromDatabase rebuilds a batch from stored state; for
// repositories only. allocated is the batch's allocated total; lines may be
// only some of its lines, oldest first: a repository loads the lines a
// command needs (the lines of the orders it allocates, every line of a batch
// it may shrink), so that a command's cost does not grow with the batch's
// history.
func UnmarshalBatchFromDatabase(ref, sku string, purchased int, eta *time.Time, allocated int, lines []OrderLine, lastChange string) (*Batch, error) {
	if ref == "" || sku == "" || purchased < 0 {
		return nil, ValidationError{Field: "batch", Reason: "stored batch is invalid"}
	}
	known := 0
	for _, l := range lines {
		known += l.qty
	}
	if allocated < known {
		return nil, ValidationError{Field: "batch", Reason: "stored batch holds more lines than its allocated quantity"}
	}
	b := &Batch{ref: ref, sku: sku, purchased: purchased, eta: truncateDate(eta), allocated: allocated, lastChange: lastChange}
	b.allocations = slices.Clone(lines)
	return b, nil
}

func truncateDate(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return &d
}

func (b *Batch) Ref() string            { return b.ref }
func (b *Batch) SKU() string            { return b.sku }
func (b *Batch) PurchasedQuantity() int { return b.purchased }

// ETA returns the expected arrival date and whether there is one.
func (b *Batch) ETA() (time.Time, bool) {
	if b.eta == nil {
		return time.Time{}, false
	}
	return *b.eta, true
}

// Allocations returns a copy of the allocated lines, oldest first.
func (b *Batch) Allocations() []OrderLine {
	return append([]OrderLine(nil), b.allocations...)
}

func (b *Batch) AllocatedQuantity() int { return b.allocated }

// LastChange is the Sequence of the last quantity change applied, or "".
func (b *Batch) LastChange() string { return b.lastChange }

func (b *Batch) AvailableQuantity() int { return b.purchased - b.AllocatedQuantity() }

// CanAllocate tells whether the line fits: same sku and enough stock left.
func (b *Batch) CanAllocate(line OrderLine) bool {
	return b.sku == line.sku && b.AvailableQuantity() >= line.qty
}

// HasLine tells whether the batch holds a line of that order.
func (b *Batch) HasLine(orderID string) bool {
	for _, l := range b.allocations {
		if l.orderID == orderID {
			return true
		}
	}
	return false
}

// Allocate adds the line. Allocating a line already held changes nothing.
func (b *Batch) Allocate(line OrderLine) error {
	if b.sku != line.sku {
		return SKUMismatchError{BatchSKU: b.sku, LineSKU: line.sku}
	}
	if b.HasLine(line.orderID) {
		return nil
	}
	if b.AvailableQuantity() < line.qty {
		return OutOfStockError{SKU: line.sku}
	}
	b.allocations = append(b.allocations, line)
	b.allocated += line.qty
	return nil
}

// Deallocate removes the line of that order, if held.
func (b *Batch) Deallocate(orderID string) {
	for i, l := range b.allocations {
		if l.orderID == orderID {
			b.allocations = slices.Delete(b.allocations, i, i+1)
			b.allocated -= l.qty
			return
		}
	}
}

// deallocateOne removes the most recently allocated line.
func (b *Batch) deallocateOne() (OrderLine, bool) {
	if len(b.allocations) == 0 {
		return OrderLine{}, false
	}
	last := b.allocations[len(b.allocations)-1]
	b.allocations = b.allocations[:len(b.allocations)-1]
	b.allocated -= last.qty
	return last, true
}

// shipsBefore orders batches for allocation: warehouse stock (no eta) first,
// then the earliest eta; ties keep the order the batches were added in.
func (b *Batch) shipsBefore(other *Batch) bool {
	switch {
	case b.eta == nil:
		return other.eta != nil
	case other.eta == nil:
		return false
	default:
		return b.eta.Before(*other.eta)
	}
}
