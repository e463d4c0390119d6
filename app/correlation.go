package app

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

type correlationIDKey struct{}

// WithCorrelationID returns a context carrying the correlation id, for ways
// in (HTTP) that do not start from a message.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationIDKey{}, id)
}

// CorrelationIDFromContext returns the correlation id set with
// WithCorrelationID or, inside a message handler, the one of the message
// being handled. Watermill's CorrelationID middleware only stamps messages
// a handler returns, and CQRS handlers return none, hence this lookup.
func CorrelationIDFromContext(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if id, ok := ctx.Value(correlationIDKey{}).(string); ok && id != "" {
		return id
	}
	if msg := cqrs.OriginalMessageFromCtx(ctx); msg != nil {
		return middleware.MessageCorrelationID(msg)
	}
	return ""
}
