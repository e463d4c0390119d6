// Package logging holds the slog set-up shared by the binary.
package logging

import (
	"context"
	"log/slog"

	"allocation/app"
)

// ContextHandler adds the correlation id of the context to every record
// logged with a context, so that a line about a message or request can be
// followed across handlers and services.
type ContextHandler struct {
	slog.Handler
}

func NewContextHandler(h slog.Handler) ContextHandler { return ContextHandler{Handler: h} }

func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := app.CorrelationIDFromContext(ctx); id != "" {
		r.AddAttrs(slog.String("correlation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{Handler: h.Handler.WithGroup(name)}
}
