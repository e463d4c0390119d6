package memory

import (
	"time"

	"allocation/domain"
)

// storedProduct is a product as committed. Like the PostgreSQL store, the
// store hands out products with only the lines a command names, so that a
// load costs what the command needs rather than the product's history,
// and no transaction shares a line with the store or with another. A
// committed storedProduct is never changed: a commit replaces it.
type storedProduct struct {
	version int
	batches []storedBatch // in the order they were added
}

type storedBatch struct {
	ref, sku   string
	purchased  int
	eta        *time.Time
	allocated  int
	lastChange string
	// lines are every line, oldest first. A commit may append to their
	// backing array in place: older snapshots read only up to their length.
	lines []domain.OrderLine
}

// loadedProduct is a product handed to a transaction with the lines it was
// given, from which its commit tells what changed.
type loadedProduct struct {
	product *domain.Product
	given   map[string][]domain.OrderLine // by batch ref
}

// load rebuilds the product with the lines for which wanted is true.
func (s *storedProduct) load(sku string, wanted func(b *storedBatch, l domain.OrderLine) bool) (loadedProduct, error) {
	loaded := loadedProduct{given: make(map[string][]domain.OrderLine, len(s.batches))}
	batches := make([]*domain.Batch, 0, len(s.batches))
	for i := range s.batches {
		b := &s.batches[i]
		var lines []domain.OrderLine
		for _, l := range b.lines {
			if wanted(b, l) {
				lines = append(lines, l)
			}
		}
		batch, err := domain.UnmarshalBatchFromDatabase(b.ref, b.sku, b.purchased, b.eta, b.allocated, lines, b.lastChange)
		if err != nil {
			return loadedProduct{}, err
		}
		loaded.given[b.ref] = lines
		batches = append(batches, batch)
	}
	product, err := domain.UnmarshalProductFromDatabase(sku, s.version, batches)
	loaded.product = product
	return loaded, err
}

// commit returns the stored product after the loaded one's changes: each
// batch's state, its lines less those the transaction removed, then those
// it added. The domain appends lines and removes the newest, so the lines
// after the common prefix of what was given and what is held now are the
// ones that changed.
func (s *storedProduct) commit(loaded loadedProduct) storedProduct {
	next := storedProduct{version: loaded.product.Version()}
	for _, b := range loaded.product.Batches() {
		now := b.Allocations()
		lines := now
		if before, ok := s.batch(b.Ref()); ok {
			given := loaded.given[b.Ref()]
			kept := 0
			for kept < len(given) && kept < len(now) && given[kept] == now[kept] {
				kept++
			}
			lines = append(without(before.lines, given[kept:]), now[kept:]...)
		}
		var eta *time.Time
		if d, ok := b.ETA(); ok {
			eta = &d
		}
		next.batches = append(next.batches, storedBatch{ref: b.Ref(), sku: b.SKU(), purchased: b.PurchasedQuantity(),
			eta: eta, allocated: b.AllocatedQuantity(), lastChange: b.LastChange(), lines: lines})
	}
	return next
}

func (s *storedProduct) batch(ref string) (*storedBatch, bool) {
	if s == nil {
		return nil, false
	}
	for i := range s.batches {
		if s.batches[i].ref == ref {
			return &s.batches[i], true
		}
	}
	return nil, false
}

// without returns lines less the removed ones, in a new array when any is
// removed: the old one is still read by earlier snapshots.
func without(lines, removed []domain.OrderLine) []domain.OrderLine {
	if len(removed) == 0 {
		return lines
	}
	gone := make(map[string]bool, len(removed))
	for _, l := range removed {
		gone[l.OrderID()] = true
	}
	kept := make([]domain.OrderLine, 0, len(lines))
	for _, l := range lines {
		if !gone[l.OrderID()] {
			kept = append(kept, l)
		}
	}
	return kept
}
