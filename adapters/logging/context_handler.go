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
//
// It also keeps each attribute once per line: an attribute whose key the
// line already has (from the logger's With, or earlier in the call) is
// dropped, so that the correlation id a caller logs itself is not repeated,
// nor an error that a library passes both as a field and as its error.
type ContextHandler struct {
	slog.Handler
	// keys are the keys of the attributes added by WithAttrs outside any
	// group; nil inside a group, where keys cannot clash with the line's.
	keys map[string]struct{}
	// grouped: attributes from here on are inside a group.
	grouped bool
}

func NewContextHandler(h slog.Handler) ContextHandler { return ContextHandler{Handler: h} }

func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	seen := make(map[string]struct{}, len(h.keys)+r.NumAttrs()+1)
	for k := range h.keys {
		seen[k] = struct{}{}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	add := func(a slog.Attr) {
		if _, dup := seen[a.Key]; dup && !h.grouped {
			return
		}
		seen[a.Key] = struct{}{}
		out.AddAttrs(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		add(a)
		return true
	})
	if id := app.CorrelationIDFromContext(ctx); id != "" {
		add(slog.String("correlation_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		add(slog.String("trace_id", sc.TraceID().String()))
		add(slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, out)
}

func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	keys := h.keys
	if !h.grouped {
		keys = make(map[string]struct{}, len(h.keys)+len(attrs))
		for k := range h.keys {
			keys[k] = struct{}{}
		}
		for _, a := range attrs {
			keys[a.Key] = struct{}{}
		}
	}
	return ContextHandler{Handler: h.Handler.WithAttrs(attrs), keys: keys, grouped: h.grouped}
}

func (h ContextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return ContextHandler{Handler: h.Handler.WithGroup(name), grouped: true}
}
