// Package logging holds the slog set-up shared by the binary.
package logging

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"allocation/app"
)

// ContextHandler adds the correlation id of the context, and the trace and
// span ids of its span when it has one, to every record
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
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{Handler: h.Handler.WithGroup(name)}
}
