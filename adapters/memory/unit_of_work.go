// Package memory holds in-memory adapters: the default store for a service
// started with no external services, and the fakes of the handler tests.
package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"allocation/app"
	"allocation/domain"
)

// UnitOfWork is an in-memory store with the same semantics as the
// PostgreSQL one: transactions work on copies, commit checks versions
// (optimistic concurrency) and then publishes the recorded events.
type UnitOfWork struct {
	mu         sync.Mutex
	products   map[string]*domain.Product // committed state, never handed out
	batchIndex map[string]string          // batch ref -> sku
	events     app.EventPublisher
}

// NewUnitOfWork returns an empty store publishing committed events to events.
func NewUnitOfWork(events app.EventPublisher) *UnitOfWork {
	return &UnitOfWork{products: map[string]*domain.Product{}, batchIndex: map[string]string{}, events: events}
}

func (u *UnitOfWork) Begin(context.Context) (app.Transaction, error) {
	return &transaction{store: u, seen: map[string]*seenProduct{}}, nil
}

type seenProduct struct {
	product       *domain.Product
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
		case !s.isNew && (!exists || current.Version() != s.loadedVersion):
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
		stored, err := copyProduct(s.product)
		if err != nil {
			return nil, err
		}
		u.products[sku] = stored
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
	r.seen[p.SKU()] = &seenProduct{product: p, isNew: true}
	return nil
}

// Get hands out the whole product: in memory, every line costs nothing to load.
func (r *repository) Get(_ context.Context, sku string, _ ...string) (*domain.Product, error) {
	if s, ok := r.seen[sku]; ok {
		return s.product, nil
	}
	r.store.mu.Lock()
	stored, ok := r.store.products[sku]
	r.store.mu.Unlock()
	if !ok {
		return nil, domain.ProductNotFoundError{SKU: sku}
	}
	p, err := copyProduct(stored)
	if err != nil {
		return nil, err
	}
	r.seen[sku] = &seenProduct{product: p, loadedVersion: p.Version()}
	return p, nil
}

func (r *repository) GetByBatchRef(ctx context.Context, ref string) (*domain.Product, error) {
	for _, s := range r.seen {
		if _, ok := s.product.Batch(ref); ok {
			return s.product, nil
		}
	}
	r.store.mu.Lock()
	sku, ok := r.store.batchIndex[ref]
	r.store.mu.Unlock()
	if !ok {
		return nil, domain.BatchNotFoundError{Ref: ref}
	}
	return r.Get(ctx, sku)
}

// copyProduct copies a product's state (not its pending events), so that
// transactions never share mutable state with the store.
func copyProduct(p *domain.Product) (*domain.Product, error) {
	batches := make([]*domain.Batch, 0, len(p.Batches()))
	for _, b := range p.Batches() {
		var eta *time.Time
		if d, ok := b.ETA(); ok {
			eta = &d
		}
		c, err := domain.UnmarshalBatchFromDatabase(b.Ref(), b.SKU(), b.PurchasedQuantity(), eta, b.AllocatedQuantity(), b.Allocations(), b.LastChange())
		if err != nil {
			return nil, err
		}
		batches = append(batches, c)
	}
	return domain.UnmarshalProductFromDatabase(p.SKU(), p.Version(), batches)
}
