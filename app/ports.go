// Package app is the service layer: command and event handlers, the ports
// they need, and their registration on Watermill's CQRS buses.
package app

import (
	"context"

	"allocation/domain"
)

// ProductRepository loads and adds products inside one transaction. A
// product is loaded for a write: no other transaction changes it until this
// one ends. It comes with all its batches and their allocated totals but,
// of its order lines, only those the caller names (a store may give more),
// so that a command's cost does not grow with the product's history.
type ProductRepository interface {
	// Add stores a new product. A batch reference already used by any
	// product is refused with domain.DuplicateBatchError.
	Add(ctx context.Context, product *domain.Product) error
	// Get returns the product of the sku, with the lines of the given
	// orders, or domain.ProductNotFoundError.
	Get(ctx context.Context, sku string, orderIDs ...string) (*domain.Product, error)
	// GetByBatchRef returns the product owning the batch, with every line
	// of that batch, or domain.BatchNotFoundError.
	GetByBatchRef(ctx context.Context, ref string) (*domain.Product, error)
}

// UnitOfWork starts transactions.
type UnitOfWork interface {
	Begin(ctx context.Context) (Transaction, error)
}

// Transaction is one atomic change. Nothing is kept unless Commit succeeds.
type Transaction interface {
	Products() ProductRepository
	// RecordEvents adds events to store with the commit, published with
	// the correlation of ctx (commands of one transaction may come from
	// different senders). Events still recorded on products at Commit go
	// with Commit's context.
	RecordEvents(ctx context.Context, events []domain.Event)
	// Commit stores every product added or loaded in the transaction and
	// the events they recorded, atomically. A product changed by someone
	// else since it was loaded fails the commit with ConcurrencyConflictError.
	Commit(ctx context.Context) error
	// Rollback discards the transaction; after Commit it does nothing.
	Rollback(ctx context.Context) error
}

// RecordedEvents are events handed to Transaction.RecordEvents, each group
// with the context it is published with.
type RecordedEvents struct {
	Ctx    context.Context
	Events []domain.Event
}

// EventRecorder implements Transaction.RecordEvents for stores to embed.
type EventRecorder struct {
	Recorded []RecordedEvents
}

func (r *EventRecorder) RecordEvents(ctx context.Context, events []domain.Event) {
	if len(events) > 0 {
		r.Recorded = append(r.Recorded, RecordedEvents{Ctx: ctx, Events: events})
	}
}

// EventPublisher hands recorded events to the event bus.
type EventPublisher interface {
	PublishEvents(ctx context.Context, events []domain.Event) error
}

// Allocation is one row of the allocations read model.
type Allocation struct {
	SKU      string `json:"sku"`
	BatchRef string `json:"batchref"`
}

// AllocationsView is the read model behind GET /allocations/{orderid}.
// Updates are idempotent and ordered by product version, so redelivered
// or reordered events leave it correct.
type AllocationsView interface {
	Allocated(ctx context.Context, e domain.Allocated) error
	Deallocated(ctx context.Context, e domain.Deallocated) error
	AllocationsFor(ctx context.Context, orderID string) ([]Allocation, error)
}

// Notifier tells people about things (the book's email.send).
type Notifier interface {
	Notify(ctx context.Context, subject, body string) error
}

// CommandSender sends a command asynchronously (the command bus).
type CommandSender interface {
	Send(ctx context.Context, cmd any) error
}
