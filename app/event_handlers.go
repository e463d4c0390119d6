package app

import (
	"context"
	"fmt"

	"allocation/domain"
)

// UpdateAllocationsViewHandler keeps the allocations read model.
type UpdateAllocationsViewHandler struct{ view AllocationsView }

func NewUpdateAllocationsViewHandler(view AllocationsView) UpdateAllocationsViewHandler {
	return UpdateAllocationsViewHandler{view}
}

func (h UpdateAllocationsViewHandler) OnAllocated(ctx context.Context, e *domain.Allocated) error {
	return h.view.Allocated(ctx, *e)
}

func (h UpdateAllocationsViewHandler) OnDeallocated(ctx context.Context, e *domain.Deallocated) error {
	return h.view.Deallocated(ctx, *e)
}

// ReallocateHandler sends Allocate for a line that lost its batch. It goes
// through the command bus so that the re-allocation is retried and parked
// like any asynchronous command.
type ReallocateHandler struct{ commands CommandSender }

func NewReallocateHandler(commands CommandSender) ReallocateHandler {
	return ReallocateHandler{commands}
}

func (h ReallocateHandler) Handle(ctx context.Context, e *domain.Deallocated) error {
	return h.commands.Send(ctx, &domain.Allocate{OrderID: e.OrderID, SKU: e.SKU, Qty: e.Qty})
}

// NotifyOutOfStockHandler tells the buyers when a sku runs out, once per
// event: a mail cannot be taken back, so redeliveries are recognised by the
// event id. A crash between sending and recording may still send twice
// (at least once), never zero times.
type NotifyOutOfStockHandler struct {
	notifier Notifier
	handled  HandledEvents
}

// notifyOutOfStockName is the handler's name, also its key in HandledEvents.
const notifyOutOfStockName = "NotifyOutOfStock"

func NewNotifyOutOfStockHandler(notifier Notifier, handled HandledEvents) NotifyOutOfStockHandler {
	return NotifyOutOfStockHandler{notifier: notifier, handled: handled}
}

func (h NotifyOutOfStockHandler) Handle(ctx context.Context, e *domain.OutOfStock) error {
	id := EventID(*e)
	done, err := h.handled.Handled(ctx, notifyOutOfStockName, id)
	if err != nil || done {
		return err
	}
	err = h.notifier.Notify(ctx,
		fmt.Sprintf("Out of stock for %s", e.SKU),
		fmt.Sprintf("Out of stock for %s: order %s wanted %d.", e.SKU, e.OrderID, e.Qty))
	if err != nil {
		return err
	}
	return h.handled.MarkHandled(ctx, notifyOutOfStockName, id)
}
