package app

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the spans of the service layer. The tracer comes from
// the global provider the binary sets (a no-op one otherwise).
const tracerName = "allocation/app"

// startCommandSpan starts the span of one command, from the moment it is
// queued behind its product's other commands until its sender has the
// result. The transaction that applies it is a child of the first command
// of its burst.
func startCommandSpan(ctx context.Context, key productKey, cmd productCommand) (context.Context, trace.Span) {
	name := "command"
	switch cmd.(type) {
	case allocateLine:
		name = "command Allocate"
	case addBatch:
		name = "command CreateBatch"
	case changeBatchQuantity:
		name = "command ChangeBatchQuantity"
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, name)
	if !span.IsRecording() {
		return ctx, span // no attributes to build
	}
	if key.sku != "" {
		span.SetAttributes(attribute.String("allocation.sku", key.sku))
	}
	if key.batchRef != "" {
		span.SetAttributes(attribute.String("allocation.batchref", key.batchRef))
	}
	if id := CorrelationIDFromContext(ctx); id != "" {
		span.SetAttributes(attribute.String("allocation.correlation_id", id))
	}
	return ctx, span
}

// endSpan ends span, recording err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
