package service

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"allocation/contracts"
	"allocation/tests/testenv"
)

// The book's scenario over each broker yields connected traces: HTTP ->
// command -> transaction -> events -> their handlers -> the external
// publish; and an inbound change_batch_quantity message with a traceparent
// -> command -> events. On Redis the inbound message is an entry an
// outside producer adds with a plain traceparent field; on Redis and SQL
// the events go through the PostgreSQL outbox (and, on Redis, its relay).
func TestTheBooksScenarioIsOneTracePerRequestAndMessage(t *testing.T) {
	// Another service of the same bus: the trace context in the metadata
	// (on SQL, the metadata column).
	publishWith := func(t *testing.T, svc *Service) func(payload, traceparent string) {
		return func(payload, traceparent string) {
			msg := message.NewMessage("change-1", []byte(payload))
			msg.Metadata.Set("traceparent", traceparent)
			if err := svc.PubSub.Publisher().Publish(contracts.ChangeBatchQuantityTopic, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("gochannel", func(t *testing.T) {
		svc, recorder := startTracedService(t, map[string]string{})
		theBooksScenarioTraces(t, svc, recorder, publishWith(t, svc))
	})
	t.Run("sql", func(t *testing.T) {
		svc, recorder := startTracedService(t, map[string]string{
			"STORE": "postgres", "BROKER": "sql", "DATABASE_URL": testenv.DatabaseURL(t),
		})
		theBooksScenarioTraces(t, svc, recorder, publishWith(t, svc))
	})
	t.Run("redis", func(t *testing.T) {
		addr, prefix := testenv.RedisAddr(t), testenv.TopicPrefix()
		client := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() {
			ctx := context.Background()
			if keys, err := client.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
				client.Del(ctx, keys...)
			}
			_ = client.Close()
		})
		svc, recorder := startTracedService(t, map[string]string{
			"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": testenv.DatabaseURL(t),
			"REDIS_ADDR": addr, "TOPIC_PREFIX": prefix,
		})
		theBooksScenarioTraces(t, svc, recorder, func(payload, traceparent string) {
			err := client.XAdd(context.Background(), &redis.XAddArgs{
				Stream: prefix + contracts.ChangeBatchQuantityTopic,
				Values: []string{"payload", payload, "traceparent", traceparent},
			}).Err()
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}

// startTracedService starts the service of env, its spans recorded.
func startTracedService(t *testing.T, env map[string]string) (*Service, *tracetest.SpanRecorder) {
	t.Helper()
	recorder := testenv.RecordSpans(t)
	gin.SetMode(gin.TestMode)

	svc := newServiceForTest(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(errors.Join(err, svc.Stop()))
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return svc, recorder
}

// theBooksScenarioTraces runs the book's scenario on svc; inbound sends a
// change_batch_quantity payload with a traceparent from outside.
func theBooksScenarioTraces(t *testing.T, svc *Service, recorder *tracetest.SpanRecorder, inbound func(payload, traceparent string)) {
	post := func(path, body, traceID string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		rec := httptest.NewRecorder()
		svc.Handler.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			t.Fatalf("%s = %d %s", path, rec.Code, rec.Body)
		}
	}
	post("/add_batch", `{"ref":"b1","sku":"LAMP","qty":10}`, "11111111111111111111111111111111")
	post("/add_batch", `{"ref":"b2","sku":"LAMP","qty":10,"eta":"2031-01-01"}`, "22222222222222222222222222222222")
	allocation := "33333333333333333333333333333333"
	post("/allocate", `{"orderid":"o1","sku":"LAMP","qty":8}`, allocation)
	waitForSpans(t, recorder, allocation,
		"POST /allocate", "command Allocate", "transaction", "load product", "commit",
		"send allocation.events.Allocated",
		"process allocation.events.Allocated PublishLineAllocated",
		"process allocation.events.Allocated AllocatedToAllocationsView",
		"send "+contracts.LineAllocatedTopic,
	)

	// Inbound: batch b1 shrinks to 5, so o1 (8) moves to b2.
	change := "44444444444444444444444444444444"
	inbound(`{"batchref":"b1","qty":5}`, "00-"+change+"-00f067aa0ba902b7-01")
	waitForSpans(t, recorder, change,
		"process "+contracts.ChangeBatchQuantityTopic+" ChangeBatchQuantityFromBroker", "command ChangeBatchQuantity",
		"send allocation.events.Deallocated", "process allocation.events.Deallocated ReallocateOnDeallocated",
		"send allocation.commands.Allocate", "process allocation.commands.Allocate AllocateHandler", "command Allocate",
		"send "+contracts.LineAllocatedTopic,
	)
}

// waitForSpans waits until the trace holds spans with every name, each
// with a parent in the trace (or the caller's remote parent).
func waitForSpans(t *testing.T, recorder *tracetest.SpanRecorder, traceID string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]bool{}
		ids := map[string]bool{"00f067aa0ba902b7": true}
		var spans []sdktrace.ReadOnlySpan
		for _, s := range recorder.Ended() {
			if s.SpanContext().TraceID().String() == traceID {
				got[s.Name()] = true
				ids[s.SpanContext().SpanID().String()] = true
				spans = append(spans, s)
			}
		}
		missing := []string{}
		for _, n := range names {
			if !got[n] {
				missing = append(missing, n)
			}
		}
		// A child ends before its parent: a parent not seen yet may still
		// be running, so it is waited for like a missing name.
		var orphans []string
		for _, s := range spans {
			if !ids[s.Parent().SpanID().String()] {
				orphans = append(orphans, s.Name())
			}
		}
		if len(missing) == 0 && len(orphans) == 0 {
			return
		}
		if len(missing) == 0 && time.Now().After(deadline) {
			t.Fatalf("spans %q of trace %s have a parent outside it", orphans, traceID)
		}
		if time.Now().After(deadline) {
			all := []string{}
			for n := range got {
				all = append(all, n)
			}
			sort.Strings(all)
			t.Fatalf("trace %s lacks %q; it has %q", traceID, missing, all)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
