package app

import "context"

// HandledEvents remembers which events a handler with side effects outside
// our store (mail) has acted on, so that a redelivered event is not acted on
// twice. Handlers whose effects are idempotent by themselves (read model,
// re-allocation) or that carry a stable id for consumers to de-duplicate
// (line_allocated) do not need it.
type HandledEvents interface {
	// Handled tells whether the handler already acted on the event.
	Handled(ctx context.Context, handler, eventID string) (bool, error)
	// MarkHandled records that the handler acted on the event.
	MarkHandled(ctx context.Context, handler, eventID string) error
}
