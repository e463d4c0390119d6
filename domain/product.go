package domain

import (
	"slices"
	"sort"
	"time"
)

// Product is the aggregate: all batches of one sku, changed together and
// guarded by one version number (optimistic concurrency).
type Product struct {
	sku     string
	batches []*Batch // in the order they were added
	// preferred holds the same batches in allocation order (warehouse
	// stock, then earliest eta), kept sorted on insertion so that
	// allocating does not sort: etas never change.
	preferred []*Batch
	version   int
	events    []Event
}

// NewProduct builds a new product with no batches at version 0.
func NewProduct(sku string) (*Product, error) {
	if err := ValidateIdentifier("sku", sku); err != nil {
		return nil, err
	}
	return &Product{sku: sku}, nil
}

// UnmarshalProductFromDatabase rebuilds a product from stored state; for
// repositories only.
//
// Stored state is not held to today's limits (limits.go): a product
// stored before them still loads.
func UnmarshalProductFromDatabase(sku string, version int, batches []*Batch) (*Product, error) {
	if sku == "" {
		return nil, ValidationError{Field: "sku", Reason: "stored product has no sku"}
	}
	p := &Product{sku: sku}
	p.version = version
	for _, b := range batches {
		p.insertBatch(b)
	}
	return p, nil
}

func (p *Product) SKU() string  { return p.sku }
func (p *Product) Version() int { return p.version }

// Batches returns the product's batches in the order they were added.
func (p *Product) Batches() []*Batch { return append([]*Batch(nil), p.batches...) }

// Batch finds a batch by reference.
func (p *Product) Batch(ref string) (*Batch, bool) {
	for _, b := range p.batches {
		if b.ref == ref {
			return b, true
		}
	}
	return nil, false
}

// Events returns the events recorded since the product was loaded.
func (p *Product) Events() []Event { return append([]Event(nil), p.events...) }

// PopEvents returns the recorded events and forgets them.
func (p *Product) PopEvents() []Event {
	events := p.events
	p.events = nil
	return events
}

func (p *Product) record(e Event) { p.events = append(p.events, e) }

// AddBatch adds a new batch of this product's sku.
func (p *Product) AddBatch(ref string, qty int, eta *time.Time) error {
	if _, exists := p.Batch(ref); exists {
		return DuplicateBatchError{Ref: ref}
	}
	b, err := NewBatch(ref, p.sku, qty, eta)
	if err != nil {
		return err
	}
	p.insertBatch(b)
	p.version++
	return nil
}

func (p *Product) insertBatch(b *Batch) {
	p.batches = append(p.batches, b)
	// After every batch that ships no later, so ties keep insertion order.
	i := sort.Search(len(p.preferred), func(i int) bool { return b.shipsBefore(p.preferred[i]) })
	p.preferred = slices.Insert(p.preferred, i, b)
}

// batchHolding returns the batch holding the order's line, if any. A scan:
// a product is loaded for one command, so an index built per load would
// cost more than it saves.
func (p *Product) batchHolding(orderID string) (*Batch, bool) {
	for _, b := range p.batches {
		if b.HasLine(orderID) {
			return b, true
		}
	}
	return nil, false
}

// Allocate allocates the line to the preferred batch that can take it and
// returns the batch's reference. A line of an order that is already
// allocated is not allocated again: its batch is returned and nothing
// changes. When no batch can take it, OutOfStock is recorded and an
// OutOfStockError returned.
func (p *Product) Allocate(line OrderLine) (string, error) {
	if line.sku != p.sku {
		return "", SKUMismatchError{BatchSKU: p.sku, LineSKU: line.sku}
	}
	if b, ok := p.batchHolding(line.orderID); ok {
		return b.ref, nil
	}
	for _, b := range p.preferred {
		if !b.CanAllocate(line) {
			continue
		}
		if err := b.Allocate(line); err != nil {
			return "", err
		}
		p.version++
		p.record(Allocated{OrderID: line.orderID, SKU: line.sku, Qty: line.qty, BatchRef: b.ref, Version: p.version})
		return b.ref, nil
	}
	p.record(OutOfStock{SKU: p.sku, OrderID: line.orderID, Qty: line.qty, Version: p.version})
	return "", OutOfStockError{SKU: p.sku}
}

// ChangeBatchQuantity sets the purchased quantity of a batch. When the
// batch no longer holds its allocations, lines are deallocated one by one
// until it does; each records Deallocated so that it is allocated again.
func (p *Product) ChangeBatchQuantity(ref string, qty int) error {
	return p.ApplyBatchQuantityChange(ChangeBatchQuantity{Ref: ref, Qty: qty})
}

// ApplyBatchQuantityChange is ChangeBatchQuantity for a change that may be
// ordered (see ChangeBatchQuantity.Sequence): one not newer than the last
// applied to the batch changes nothing and returns StaleChangeError.
func (p *Product) ApplyBatchQuantityChange(change ChangeBatchQuantity) error {
	if err := change.Validate(); err != nil {
		return err
	}
	ref, qty := change.Ref, change.Qty
	b, ok := p.Batch(ref)
	if !ok {
		return BatchNotFoundError{Ref: ref}
	}
	if change.Sequence != "" && b.lastChange != "" && change.Sequence <= b.lastChange {
		return StaleChangeError{Ref: ref, Sequence: change.Sequence, Applied: b.lastChange}
	}
	if b.purchased == qty && change.Sequence == "" {
		return nil
	}
	if change.Sequence != "" {
		b.lastChange = change.Sequence
	}
	b.purchased = qty
	p.version++
	for b.AvailableQuantity() < 0 {
		line, ok := b.deallocateOne()
		if !ok {
			break
		}
		p.record(Deallocated{OrderID: line.orderID, SKU: line.sku, Qty: line.qty, BatchRef: b.ref, Version: p.version})
	}
	return nil
}
