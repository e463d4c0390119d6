package postgres

import (
	"time"

	"allocation/domain"
)

// batchState is a batch as it was loaded, to write only what changed.
type batchState struct {
	purchased  int
	allocated  int
	lastChange string
	eta        *time.Time
	// lines are those the batch was loaded with, not always all of them.
	lines []domain.OrderLine
}

// seenProduct is a product the transaction handed out or was given.
type seenProduct struct {
	product       *domain.Product
	loadedVersion int
	// loaded is nil for a new product: every batch of it is new.
	loaded map[string]batchState
	isNew  bool
}

func snapshotBatches(p *domain.Product) map[string]batchState {
	loaded := make(map[string]batchState, len(p.Batches()))
	for _, b := range p.Batches() {
		loaded[b.Ref()] = batchState{purchased: b.PurchasedQuantity(), allocated: b.AllocatedQuantity(), lastChange: b.LastChange(), eta: etaOf(b), lines: b.Allocations()}
	}
	return loaded
}

func etaOf(b *domain.Batch) *time.Time {
	if d, ok := b.ETA(); ok {
		return &d
	}
	return nil
}

// changed tells whether the product must be written: it is new or its
// version moved (every domain change bumps the version).
func (s *seenProduct) changed() bool {
	return s.isNew || s.product.Version() != s.loadedVersion
}
