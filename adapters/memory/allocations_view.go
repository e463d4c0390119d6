package memory

import (
	"context"
	"sort"
	"sync"

	"allocation/app"
	"allocation/domain"
)

// AllocationsView is the in-memory allocations read model. A row per order
// line keeps the product version of the last event applied, so stale and
// repeated events change nothing.
type AllocationsView struct {
	mu   sync.RWMutex
	rows map[string]map[string]viewRow // orderid -> sku -> row
}

type viewRow struct {
	batchRef string // empty after deallocation
	version  int
}

func NewAllocationsView() *AllocationsView {
	return &AllocationsView{rows: map[string]map[string]viewRow{}}
}

func (v *AllocationsView) Allocated(_ context.Context, e domain.Allocated) error {
	v.apply(e.OrderID, e.SKU, viewRow{batchRef: e.BatchRef, version: e.Version})
	return nil
}

func (v *AllocationsView) Deallocated(_ context.Context, e domain.Deallocated) error {
	v.apply(e.OrderID, e.SKU, viewRow{version: e.Version})
	return nil
}

func (v *AllocationsView) apply(orderID, sku string, row viewRow) {
	v.mu.Lock()
	defer v.mu.Unlock()
	lines, ok := v.rows[orderID]
	if !ok {
		lines = map[string]viewRow{}
		v.rows[orderID] = lines
	}
	if current, ok := lines[sku]; ok && current.version >= row.version {
		return
	}
	lines[sku] = row
}

func (v *AllocationsView) AllocationsFor(_ context.Context, orderID string) ([]app.Allocation, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []app.Allocation
	for sku, row := range v.rows[orderID] {
		if row.batchRef != "" {
			out = append(out, app.Allocation{SKU: sku, BatchRef: row.batchRef})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	return out, nil
}
