package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"allocation/adapters/messagebus"
	"allocation/adapters/tracing"
	"allocation/contracts"
	"allocation/ports/broker"
)

// An entry an outside producer adds with plain traceparent and tracestate
// fields (redis-cli XADD ... traceparent 00-...) continues that trace: the
// consumer span is a child of the producer's span, and the command handler
// runs in it. A parked entry keeps the fields, plain.
func TestBrokerConsumerOnRedisStreamsContinuesTheEntrysTrace(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	ps, client, prefix := newRedis(t)
	r := runConsumer(t, ps, tracing.ConsumerMiddleware("redis", messagebus.ConsumerGroup))
	ctx := context.Background()
	stream := prefix + contracts.ChangeBatchQuantityTopic
	const (
		traceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID    = "00f067aa0ba902b7"
		traceparent = "00-" + traceID + "-" + parentID + "-01"
	)
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{
		"payload", `{"batchref":"b1","qty":5}`, "correlation_id", "corr-traced",
		"traceparent", traceparent, "tracestate", "vendor=opaque",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	r.waitForCalls(t, 1)
	handled := r.calls.traceContexts()[0]
	if handled.TraceID().String() != traceID {
		t.Fatalf("the handler ran in trace %s, want %s", handled.TraceID(), traceID)
	}
	if got := handled.TraceState().String(); got != "vendor=opaque" {
		t.Errorf("tracestate %q, want vendor=opaque", got)
	}

	consumer := waitForEndedSpan(t, recorder, func(s sdktrace.ReadOnlySpan) bool {
		return s.SpanContext().SpanID() == handled.SpanID()
	})
	if consumer.SpanKind() != trace.SpanKindConsumer || consumer.Parent().SpanID().String() != parentID || !consumer.Parent().IsRemote() {
		t.Errorf("handler span %q: kind %v, parent %s (remote %v); want a consumer span, child of the entry's %s",
			consumer.Name(), consumer.SpanKind(), consumer.Parent().SpanID(), consumer.Parent().IsRemote(), parentID)
	}
	attrs := map[string]string{}
	for _, kv := range consumer.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	wantAttrs := map[string]string{
		"messaging.system":              "redis",
		"messaging.destination.name":    contracts.ChangeBatchQuantityTopic, // the topic, before TOPIC_PREFIX
		"messaging.consumer.group.name": messagebus.ConsumerGroup(broker.ChangeBatchQuantityHandlerName),
		"messaging.handler.name":        broker.ChangeBatchQuantityHandlerName,
	}
	for k, want := range wantAttrs {
		if attrs[k] != want {
			t.Errorf("consumer span attribute %s = %q, want %q (all: %v)", k, attrs[k], want, attrs)
		}
	}

	// A bad entry is parked with its trace context as plain fields.
	const badTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{
		"payload", "}{", "traceparent", badTraceparent,
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	assertParked(t, r.nextParked(t), "not valid JSON")
	entries, err := client.XRange(ctx, prefix+messagebus.PoisonTopic, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("poison stream: %d entries, %v", len(entries), err)
	}
	if got := entries[0].Values["traceparent"]; got != badTraceparent {
		t.Errorf("parked entry traceparent field %v, want %s (fields %v)", got, badTraceparent, entries[0].Values)
	}
	if _, ok := entries[0].Values["md_traceparent"]; ok {
		t.Errorf("parked entry has an md_traceparent field: %v", entries[0].Values)
	}
}

// waitForEndedSpan waits until the recorder holds an ended span matching.
func waitForEndedSpan(t *testing.T, recorder *tracetest.SpanRecorder, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, s := range recorder.Ended() {
			if match(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such span ended within %s; ended: %d spans", waitTimeout, len(recorder.Ended()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
