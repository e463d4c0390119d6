// Package memory holds in-memory adapters: the default store for a service
// started with no external services, and the fakes of the handler tests.
package memory

import (
	"context"
	"errors"
	"slices"
	"sync"

	"allocation/app"
	"allocation/domain"
)

// UnitOfWork is an in-memory store with the same semantics as the
// PostgreSQL one: transactions work on products of their own, loaded with
// the lines they name; commit checks versions (optimistic concurrency) and
// then publishes the recorded events.
type UnitOfWork struct {
	mu         sync.Mutex
	products   map[string]*storedProduct // committed state
	batchIndex map[string]string         // batch ref -> sku
	events     app.EventPublisher
}

// NewUnitOfWork returns an empty store publishing committed events to events.
func NewUnitOfWork(events app.EventPublisher) *UnitOfWork {
	return &UnitOfWork{products: map[string]*storedProduct{}, batchIndex: map[string]string{}, events: events}
}

func (u *UnitOfWork) Begin(context.Context) (app.Transaction, error) {
	return &transaction{store: u, seen: map[string]*seenProduct{}}, nil
}

type seenProduct struct {
	loadedProduct
	loadedVersion int
	isNew         bool
}

type transaction struct {
	app.EventRecorder
	store *UnitOfWork
	seen  map[string]*seenProduct
	done  bool
}

func (t *transaction) Products() app.ProductRepository { return (*repository)(t) }

func (t *transaction) Commit(ctx context.Context) error {
	if t.done {
		return errors.New("transaction already finished")
	}
	events, err := t.store.apply(t.seen)
	if err != nil {
		return err
	}
	t.done = true
	if t.store.events == nil {
		return nil
	}
	for _, r := range t.Recorded {
		if err := t.store.events.PublishEvents(r.Ctx, r.Events); err != nil {
			return err
		}
	}
	if len(events) == 0 {
		return nil
	}
	return t.store.events.PublishEvents(ctx, events)
}

func (t *transaction) Rollback(context.Context) error {
	t.done = true
	return nil
}

// apply writes the transaction's products if none changed meanwhile.
func (u *UnitOfWork) apply(seen map[string]*seenProduct) ([]domain.Event, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for sku, s := range seen {
		current, exists := u.products[sku]
		switch {
		case s.isNew && exists:
			return nil, app.ConcurrencyConflictError{SKU: sku}
		case !s.isNew && (!exists || current.version != s.loadedVersion):
			return nil, app.ConcurrencyConflictError{SKU: sku}
		}
		for _, b := range s.product.Batches() {
			if owner, used := u.batchIndex[b.Ref()]; used && owner != sku {
				return nil, domain.DuplicateBatchError{Ref: b.Ref()}
			}
		}
	}
	var events []domain.Event
	for sku, s := range seen {
		if !s.isNew && s.product.Version() == s.loadedVersion && len(s.product.Events()) == 0 {
			continue
		}
		next := u.products[sku].commit(s.loadedProduct)
		u.products[sku] = &next
		for _, b := range s.product.Batches() {
			u.batchIndex[b.Ref()] = sku
		}
		events = append(events, s.product.PopEvents()...)
	}
	return events, nil
}

type repository transaction

func (r *repository) Add(_ context.Context, p *domain.Product) error {
	if _, ok := r.seen[p.SKU()]; ok {
		return app.ConcurrencyConflictError{SKU: p.SKU()}
	}
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	if _, exists := r.store.products[p.SKU()]; exists {
		return app.ConcurrencyConflictError{SKU: p.SKU()}
	}
	for _, b := range p.Batches() {
		if _, used := r.store.batchIndex[b.Ref()]; used {
			return domain.DuplicateBatchError{Ref: b.Ref()}
		}
	}
	r.seen[p.SKU()] = &seenProduct{loadedProduct: loadedProduct{product: p}, isNew: true}
	return nil
}

// Get hands out the product with the lines of the given orders, or with
// every line when none is named (a store may give more; tests read whole
// products so).
func (r *repository) Get(_ context.Context, sku string, orderIDs ...string) (*domain.Product, error) {
	switch {
	case len(orderIDs) == 0:
		return r.load(sku, func(*storedBatch, domain.OrderLine) bool { return true })
	case len(orderIDs) <= 8:
		return r.load(sku, func(_ *storedBatch, l domain.OrderLine) bool { return slices.Contains(orderIDs, l.OrderID()) })
	}
	// A burst names up to hundreds of orders: a set then beats a scan of
	// the names per line.
	named := make(map[string]bool, len(orderIDs))
	for _, id := range orderIDs {
		named[id] = true
	}
	return r.load(sku, func(_ *storedBatch, l domain.OrderLine) bool { return named[l.OrderID()] })
}

// GetByBatchRef hands out the product with every line of the batch.
func (r *repository) GetByBatchRef(_ context.Context, ref string) (*domain.Product, error) {
	for _, s := range r.seen {
		if _, ok := s.product.Batch(ref); ok {
			return s.product, nil
		}
	}
	sku, ok := r.store.skuOfBatch(ref)
	if !ok {
		return nil, domain.BatchNotFoundError{Ref: ref}
	}
	return r.load(sku, func(b *storedBatch, _ domain.OrderLine) bool { return b.ref == ref })
}

// load rebuilds the product outside the lock: a committed storedProduct
// never changes.
func (r *repository) load(sku string, wanted func(*storedBatch, domain.OrderLine) bool) (*domain.Product, error) {
	if s, ok := r.seen[sku]; ok {
		return s.product, nil
	}
	stored, ok := r.store.committed(sku)
	if !ok {
		return nil, domain.ProductNotFoundError{SKU: sku}
	}
	loaded, err := stored.load(sku, wanted)
	if err != nil {
		return nil, err
	}
	r.seen[sku] = &seenProduct{loadedProduct: loaded, loadedVersion: stored.version}
	return loaded.product, nil
}

// committed is the product sku as last committed.
func (u *UnitOfWork) committed(sku string) (*storedProduct, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	stored, ok := u.products[sku]
	return stored, ok
}

// skuOfBatch is the product a committed batch belongs to.
func (u *UnitOfWork) skuOfBatch(ref string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	sku, ok := u.batchIndex[ref]
	return sku, ok
}
