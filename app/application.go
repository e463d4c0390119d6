package app

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"allocation/domain"
)

// Dependencies are the adapters the application runs on.
type Dependencies struct {
	UnitOfWork UnitOfWork
	View       AllocationsView
	Notifier   Notifier
	// HandledEvents de-duplicates handlers with outside side effects.
	HandledEvents HandledEvents
	// Commands sends asynchronous commands (the command bus).
	Commands CommandSender
	// ExternalEvents publishes facts other services subscribe to; may be nil.
	ExternalEvents ExternalEventPublisher
	ConflictRetry  ConflictRetryPolicy
	// CommandTimeout bounds a command's transaction; 0 leaves it unbounded.
	CommandTimeout time.Duration
	// OnConflict is called on every optimistic-concurrency conflict; may be nil.
	OnConflict func()
}

// Application is the service layer: the command handlers the ways in call,
// and the event handlers the bus calls.
type Application struct {
	AddBatch            AddBatchHandler
	Allocate            AllocateHandler
	ChangeBatchQuantity ChangeBatchQuantityHandler
	Allocations         AllocationsView

	products        *ProductQueue
	allocationsView UpdateAllocationsViewHandler
	reallocate      ReallocateHandler
	notify          NotifyOutOfStockHandler
	publishExternal *PublishLineAllocatedHandler
}

func NewApplication(d Dependencies) (Application, error) {
	switch {
	case d.UnitOfWork == nil:
		return Application{}, errors.New("application: no unit of work")
	case d.View == nil:
		return Application{}, errors.New("application: no allocations view")
	case d.Notifier == nil:
		return Application{}, errors.New("application: no notifier")
	case d.HandledEvents == nil:
		return Application{}, errors.New("application: no handled-events store")
	case d.Commands == nil:
		return Application{}, errors.New("application: no command sender")
	}
	products := NewProductQueue(NewTransactionRunner(d.UnitOfWork, d.ConflictRetry, d.OnConflict), d.CommandTimeout)
	a := Application{
		AddBatch:            NewAddBatchHandler(products),
		Allocate:            NewAllocateHandler(products),
		ChangeBatchQuantity: NewChangeBatchQuantityHandler(products),
		products:            products,
		Allocations:         d.View,
		allocationsView:     NewUpdateAllocationsViewHandler(d.View),
		reallocate:          NewReallocateHandler(d.Commands),
		notify:              NewNotifyOutOfStockHandler(d.Notifier, d.HandledEvents),
	}
	if d.ExternalEvents != nil {
		h := NewPublishLineAllocatedHandler(d.ExternalEvents)
		a.publishExternal = &h
	}
	return a, nil
}

// Close refuses new commands and waits, up to ctx, for those queued.
func (a Application) Close(ctx context.Context) error {
	if a.products == nil {
		return nil
	}
	return a.products.Close(ctx)
}

// CommandHandlers is the command handler table: one handler per command.
func (a Application) CommandHandlers() []cqrs.CommandHandler {
	return []cqrs.CommandHandler{
		cqrs.NewCommandHandler("AddBatchHandler", a.AddBatch.Handle),
		cqrs.NewCommandHandler("AllocateHandler", func(ctx context.Context, cmd *domain.Allocate) error {
			_, err := a.Allocate.Handle(ctx, cmd)
			// Out of stock is an outcome, not a failure: OutOfStock was
			// recorded and is handled; there is nothing to retry or park.
			var outOfStock domain.OutOfStockError
			if errors.As(err, &outOfStock) {
				return nil
			}
			return err
		}),
		cqrs.NewCommandHandler("ChangeBatchQuantityHandler", a.ChangeBatchQuantity.Handle),
	}
}

// EventHandlers is the event handler table: any number per event, each
// with its own subscription, so one failing never holds the others back.
func (a Application) EventHandlers() []cqrs.EventHandler {
	handlers := []cqrs.EventHandler{
		// Allocated
		cqrs.NewEventHandler("AllocatedToAllocationsView", a.allocationsView.OnAllocated),
		// Deallocated
		cqrs.NewEventHandler("DeallocatedToAllocationsView", a.allocationsView.OnDeallocated),
		cqrs.NewEventHandler("ReallocateOnDeallocated", a.reallocate.Handle),
		// OutOfStock
		cqrs.NewEventHandler(notifyOutOfStockName, a.notify.Handle),
	}
	if a.publishExternal != nil {
		handlers = append(handlers, cqrs.NewEventHandler("PublishLineAllocated", a.publishExternal.Handle))
	}
	return handlers
}
