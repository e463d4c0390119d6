package tracing_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"allocation/adapters/tracing"
	"allocation/tests/testenv"
)

func spanNamed(t *testing.T, recorder *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range recorder.Ended() {
			if s.Name() == name {
				return s
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no span %q among %d", name, len(recorder.Ended()))
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// A message published in a span carries its trace context; the handler's
// consumer span continues it, with the messaging attributes.
func TestProducerAndConsumerSpansShareTheTrace(t *testing.T) {
	recorder := testenv.RecordSpans(t)
	ps := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	router.AddMiddleware(tracing.ConsumerMiddleware("gochannel", func(h string) string { return "group." + h }))
	handled := make(chan trace.SpanContext, 1)
	router.AddConsumerHandler("H", "topic", ps, func(msg *message.Message) error {
		handled <- trace.SpanContextFromContext(msg.Context())
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()

	pub := tracing.DecoratePublisher(ps, "gochannel")
	parentCtx, parent := otel.Tracer("test").Start(context.Background(), "request")
	msg := message.NewMessage("m-1", []byte("{}"))
	msg.SetContext(parentCtx)
	if err := pub.Publish("topic", msg); err != nil {
		t.Fatal(err)
	}
	parent.End()
	if msg.Metadata.Get(tracing.TraceparentKey) == "" {
		t.Fatalf("no traceparent in the metadata: %v", msg.Metadata)
	}
	var inHandler trace.SpanContext
	select {
	case inHandler = <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("not handled")
	}

	producer := spanNamed(t, recorder, "send topic")
	consumer := spanNamed(t, recorder, "process topic H")
	if producer.SpanKind() != trace.SpanKindProducer || consumer.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("kinds %v, %v", producer.SpanKind(), consumer.SpanKind())
	}
	if producer.Parent().SpanID() != parent.SpanContext().SpanID() || consumer.Parent().SpanID() != producer.SpanContext().SpanID() {
		t.Errorf("request -> send -> process not chained: send's parent %s, process's parent %s", producer.Parent().SpanID(), consumer.Parent().SpanID())
	}
	if inHandler.TraceID() != parent.SpanContext().TraceID() || inHandler.SpanID() != consumer.SpanContext().SpanID() {
		t.Errorf("handler's context %v is not the consumer span", inHandler)
	}
	for key, want := range map[string]string{
		"messaging.system": "gochannel", "messaging.destination.name": "topic",
		"messaging.message.id": "m-1", "messaging.consumer.group.name": "group.H",
	} {
		if got := attr(consumer, key); got != want {
			t.Errorf("consumer %s = %q, want %q", key, got, want)
		}
	}
}

// A message whose context has no span (the outbox relay reading a stored
// message) continues the trace stored in its metadata.
func TestPublishingAStoredMessageContinuesItsTrace(t *testing.T) {
	recorder := testenv.RecordSpans(t)
	stored := message.NewMessage("m-2", nil)
	stored.Metadata.Set(tracing.TraceparentKey, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	stored.Metadata.Set(tracing.TracestateKey, "vendor=x")
	pub := tracing.DecoratePublisher(gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), "redis")
	if err := pub.Publish("line_allocated", stored); err != nil {
		t.Fatal(err)
	}
	span := spanNamed(t, recorder, "send line_allocated")
	if span.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || span.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span %s parent %s, want the stored trace", span.SpanContext().TraceID(), span.Parent().SpanID())
	}
	if got := stored.Metadata.Get(tracing.TraceparentKey); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-"+span.SpanContext().SpanID().String()+"-01" {
		t.Errorf("traceparent %q, want the send span's", got)
	}
	if stored.Metadata.Get(tracing.TracestateKey) != "vendor=x" {
		t.Errorf("tracestate %q lost", stored.Metadata.Get(tracing.TracestateKey))
	}
}

// Without a trace nothing is written into the metadata.
func TestNoTraceNoMetadata(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	msg := message.NewMessage("m-3", nil)
	pub := tracing.DecoratePublisher(gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), "gochannel")
	otel.SetTracerProvider(noop.NewTracerProvider())
	if err := pub.Publish("t", msg); err != nil {
		t.Fatal(err)
	}
	if msg.Metadata.Get(tracing.TraceparentKey) != "" {
		t.Errorf("traceparent %q without a trace", msg.Metadata.Get(tracing.TraceparentKey))
	}
}
