// Package tracing carries OpenTelemetry traces across Watermill messages and
// the unit of work: a publisher decorator that starts a producer span and
// writes the W3C trace context (traceparent, tracestate) into a message's
// metadata, router middleware that reads it back and starts a consumer span
// per handler, and spans around transactions. It uses the global tracer
// provider and propagator (set by the binary; without them every span is a
// no-op and the context passes through unchanged).
package tracing

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName names this instrumentation.
const ScopeName = "allocation/adapters/tracing"

// Metadata keys of the W3C trace context, as the propagator writes them.
const (
	TraceparentKey = "traceparent"
	TracestateKey  = "tracestate"
)

func tracer() trace.Tracer { return otel.Tracer(ScopeName) }

// Extract returns ctx with the remote span context found in md, if any.
func Extract(ctx context.Context, md message.Metadata) context.Context {
	if md.Get(TraceparentKey) == "" {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(md))
}

// Inject writes the span context of ctx into md (nothing without a valid
// span context).
func Inject(ctx context.Context, md message.Metadata) {
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(md))
}

// publisher decorates a Watermill publisher: every message gets a producer
// span, child of the span of the message's context or, when that has none
// (the outbox relay, a replay), of the trace context already in its
// metadata; the span's context is then written into the metadata.
type publisher struct {
	message.Publisher
	system string
}

// DecoratePublisher traces what pub publishes; system is the
// messaging.system attribute (gochannel, redis, postgresql).
func DecoratePublisher(pub message.Publisher, system string) message.Publisher {
	return publisher{Publisher: pub, system: system}
}

func (p publisher) Publish(topic string, msgs ...*message.Message) error {
	spans := make([]trace.Span, len(msgs))
	for i, msg := range msgs {
		parent := msg.Context()
		if !trace.SpanContextFromContext(parent).IsValid() {
			parent = Extract(parent, msg.Metadata)
		}
		_, span := tracer().Start(parent, "send "+topic, trace.WithSpanKind(trace.SpanKindProducer))
		if span.IsRecording() {
			span.SetAttributes(
				semconv.MessagingSystemKey.String(p.system),
				semconv.MessagingDestinationName(topic),
				semconv.MessagingMessageID(msg.UUID),
				semconv.MessagingOperationTypeSend,
			)
		}
		if span.SpanContext().IsValid() {
			if msg.Metadata == nil {
				msg.Metadata = message.Metadata{}
			}
			Inject(trace.ContextWithSpan(parent, span), msg.Metadata)
		}
		spans[i] = span
	}
	err := p.Publisher.Publish(topic, msgs...)
	for _, span := range spans {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	return err
}

// ConsumerMiddleware starts a consumer span around every handler attempt,
// continuing the trace in the message's metadata (or the one in its
// context), and puts it in the message's context for the handler and what
// it publishes. consumerGroup names the group of a handler.
func ConsumerMiddleware(system string, consumerGroup func(handler string) string) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := msg.Context()
			handler := message.HandlerNameFromCtx(ctx)
			topic := message.SubscribeTopicFromCtx(ctx)
			if !trace.SpanContextFromContext(ctx).IsValid() || msg.Metadata.Get(TraceparentKey) != "" {
				ctx = Extract(ctx, msg.Metadata)
			}
			ctx, span := tracer().Start(ctx, "process "+topic+" "+handler, trace.WithSpanKind(trace.SpanKindConsumer))
			if span.IsRecording() {
				span.SetAttributes(
					semconv.MessagingSystemKey.String(system),
					semconv.MessagingDestinationName(topic),
					semconv.MessagingMessageID(msg.UUID),
					semconv.MessagingOperationTypeProcess,
					attribute.String("messaging.handler.name", handler),
				)
				if consumerGroup != nil {
					span.SetAttributes(semconv.MessagingConsumerGroupName(consumerGroup(handler)))
				}
			}
			defer span.End()
			original := msg.Context()
			msg.SetContext(ctx)
			defer msg.SetContext(original)
			produced, err := next(msg)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return produced, err
		}
	}
}
