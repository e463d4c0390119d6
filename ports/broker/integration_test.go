package broker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"allocation/adapters/messagebus"
	"allocation/adapters/pubsub"
	"allocation/app"
	"allocation/contracts"
	"allocation/domain"
	"allocation/ports/broker"
	"allocation/tests/testenv"
)

// The consumer on the real router (messagebus.NewMessageBus: poison queue, retry,
// recoverer) on real brokers. Integration: fails when Redis or PostgreSQL
// is unreachable, unless SKIP_INTEGRATION=1.

const waitTimeout = 15 * time.Second

// calls records the command handler's calls.
type calls struct {
	mu     sync.Mutex
	cmds   []domain.ChangeBatchQuantity
	ids    []string
	traces []trace.SpanContext
}

func (c *calls) handle(ctx context.Context, cmd *domain.ChangeBatchQuantity) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmds = append(c.cmds, *cmd)
	c.ids = append(c.ids, app.CorrelationIDFromContext(ctx))
	c.traces = append(c.traces, trace.SpanContextFromContext(ctx))
	if cmd.Ref == "unknown" {
		return domain.BatchNotFoundError{Ref: cmd.Ref}
	}
	return nil
}

// traceContexts are the span contexts the handler was called with.
func (c *calls) traceContexts() []trace.SpanContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]trace.SpanContext(nil), c.traces...)
}

func (c *calls) snapshot() ([]domain.ChangeBatchQuantity, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]domain.ChangeBatchQuantity(nil), c.cmds...), append([]string(nil), c.ids...)
}

type running struct {
	calls  *calls
	poison <-chan *message.Message
	ps     messagebus.PubSub
}

// runConsumer starts a router with the consumer and a reader of the
// poison queue, the way the service is wired (with middlewares inside the
// poison queue and retry, as the service's tracing and logging).
func runConsumer(t *testing.T, ps messagebus.PubSub, middlewares ...message.HandlerMiddleware) *running {
	t.Helper()
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub:      ps,
		Logger:      watermill.NopLogger{},
		Retry:       messagebus.HandlerRetryPolicy{MaxRetries: 3, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond},
		Middlewares: middlewares,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &calls{}
	consumer, err := broker.NewChangeBatchQuantityConsumer(c.handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ps.Subscriber(messagebus.ConsumerGroup(broker.ChangeBatchQuantityHandlerName))
	if err != nil {
		t.Fatal(err)
	}
	consumer.AddTo(bus.Router, sub)

	poisonSub, err := ps.Subscriber("test.poison-reader")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	poison, err := poisonSub.Subscribe(ctx, messagebus.PoisonTopic)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bus.Router.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		_ = bus.Router.Close()
		_ = poisonSub.Close()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	select {
	case <-bus.Router.Running():
	case <-time.After(waitTimeout):
		t.Fatal("router did not start")
	}
	return &running{calls: c, poison: poison, ps: ps}
}

func (r *running) nextParked(t *testing.T) *message.Message {
	t.Helper()
	select {
	case msg := <-r.poison:
		msg.Ack()
		return msg
	case <-time.After(waitTimeout):
		t.Fatal("nothing parked in the poison queue")
		return nil
	}
}

func (r *running) waitForCalls(t *testing.T, n int) (cmds []domain.ChangeBatchQuantity, ids []string) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, fmt.Sprintf("%d handler calls", n), func() bool {
		cmds, ids = r.calls.snapshot()
		return len(cmds) >= n
	})
	return cmds, ids
}

// newRedis is a Redis Streams pub/sub in a topic namespace of the test's
// own, a client of that Redis, and the namespace's prefix.
func newRedis(t *testing.T) (messagebus.PubSub, *redis.Client, string) {
	t.Helper()
	addr, prefix := testenv.RedisNamespace(t)
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	ps, err := pubsub.NewRedisStreamsPubSub(pubsub.RedisStreamsConfig{Redis: redis.Options{Addr: addr}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return pubsub.NewNamespacedPubSub(ps, prefix), client, prefix
}

// newSQL is a SQL pub/sub in a schema of the test's own, and a topic
// prefix within it.
func newSQL(t *testing.T) (messagebus.PubSub, string) {
	t.Helper()
	ps, err := pubsub.NewSQLPubSub(testenv.Database(t), pubsub.SQLConfig{PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	prefix := testenv.TopicPrefix()
	return pubsub.NewNamespacedPubSub(ps, prefix), prefix
}

func publish(t *testing.T, ps messagebus.PubSub, payload, correlationID string) *message.Message {
	t.Helper()
	msg := message.NewMessage(uuid.NewString(), []byte(payload))
	if correlationID != "" {
		middleware.SetCorrelationID(correlationID, msg)
	}
	if err := ps.Publisher().Publish(contracts.ChangeBatchQuantityTopic, msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestBrokerConsumerOnRedisStreams(t *testing.T) {
	t.Parallel()
	ps, client, prefix := newRedis(t)
	r := runConsumer(t, ps)
	ctx := context.Background()
	stream := prefix + contracts.ChangeBatchQuantityTopic
	xadd := func(values ...string) {
		t.Helper()
		if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// What an outside client does with redis-cli.
	xadd("payload", `{"batchref":"b1","qty":5}`, "correlation_id", "corr-cli")
	cmds, ids := r.waitForCalls(t, 1)
	if withoutSequence(cmds[0]) != (domain.ChangeBatchQuantity{Ref: "b1", Qty: 5}) || ids[0] != "corr-cli" {
		t.Errorf("handled %+v with correlation id %q", cmds[0], ids[0])
	}

	xadd("qty", "5") // no payload field
	parked := r.nextParked(t)
	assertParked(t, parked, `entry has no "payload" field`)
	if middleware.MessageCorrelationID(parked) == "" {
		t.Error("parked message has no correlation id")
	}

	xadd("payload", "}{")
	assertParked(t, r.nextParked(t), "not valid JSON")

	xadd("payload", `{"batchref":"unknown","qty":5}`)
	assertParked(t, r.nextParked(t), "Unknown batch unknown")

	// The subscription goes on after all of that.
	xadd("payload", `{"batchref":"b2","qty":0}`)
	cmds, _ = r.waitForCalls(t, 3)
	if withoutSequence(cmds[2]) != (domain.ChangeBatchQuantity{Ref: "b2", Qty: 0}) || cmds[2].Sequence <= cmds[0].Sequence {
		t.Errorf("handled %+v after the malformed entries", cmds[2])
	}
	// Invalid messages never reached the handler, and the unknown batch
	// (a permanent error) was not retried.
	if len(cmds) != 3 {
		t.Errorf("handler called %d times, want 3: %+v", len(cmds), cmds)
	}

	// Parked entries are plain too: readable with XRANGE.
	entries, err := client.XRange(ctx, prefix+messagebus.PoisonTopic, "-", "+").Result()
	if err != nil || len(entries) != 3 {
		t.Fatalf("poison stream: %d entries, %v", len(entries), err)
	}
	if reason, _ := entries[1].Values["md_"+middleware.ReasonForPoisonedKey].(string); !strings.Contains(reason, "not valid JSON") {
		t.Errorf("poison entry %v has no plain reason field", entries[1].Values)
	}
}

func TestBrokerConsumerOnSQL(t *testing.T) {
	t.Parallel()
	ps, _ := newSQL(t)
	r := runConsumer(t, ps)

	publish(t, ps, `{"batchref":"b1","qty":5}`, "corr-sql")
	cmds, ids := r.waitForCalls(t, 1)
	if withoutSequence(cmds[0]) != (domain.ChangeBatchQuantity{Ref: "b1", Qty: 5}) || ids[0] != "corr-sql" {
		t.Errorf("handled %+v with correlation id %q", cmds[0], ids[0])
	}

	// The JSON column refuses broken JSON at the door; a contract breach
	// gets in and is parked.
	bad := publish(t, ps, `{"batchref":"b1","qty":-3}`, "")
	parked := r.nextParked(t)
	assertParked(t, parked, "/qty: minimum")
	if parked.UUID != bad.UUID || middleware.MessageCorrelationID(parked) != bad.UUID {
		t.Errorf("parked %s with correlation id %q, want %s for both", parked.UUID, middleware.MessageCorrelationID(parked), bad.UUID)
	}

	publish(t, ps, `{"batchref":"b2","qty":1}`, "")
	cmds, _ = r.waitForCalls(t, 2)
	if len(cmds) != 2 || cmds[1].Ref != "b2" {
		t.Errorf("handled %+v", cmds)
	}
}

func assertParked(t *testing.T, parked *message.Message, reason string) {
	t.Helper()
	got := parked.Metadata.Get(middleware.ReasonForPoisonedKey)
	if !strings.Contains(got, reason) {
		t.Errorf("parked with reason %q, want it to say %q", got, reason)
	}
	if h := parked.Metadata.Get(middleware.PoisonedHandlerKey); h != broker.ChangeBatchQuantityHandlerName {
		t.Errorf("parked by handler %q", h)
	}
}
