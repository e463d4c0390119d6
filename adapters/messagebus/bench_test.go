package messagebus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/adapters/memory"
	"allocation/adapters/messagebus"
	"allocation/adapters/pubsub"
	"allocation/app"
	"allocation/domain"
	"allocation/tests/testenv"
)

// benchHarness is the service layer on the in-memory bus, wired as
// newHarness wires it (which takes a *testing.T), with an external
// publisher that signals each line_allocated it is given.
type benchHarness struct {
	bus    *messagebus.MessageBus
	app    app.Application
	lines  chan string   // order ids, as PublishLineAllocated hands them over
	closed chan struct{} // closed before the router stops
}

func newBenchHarness(b *testing.B) *benchHarness {
	b.Helper()
	ps := pubsub.NewGoChannelPubSub(watermill.NopLogger{})
	b.Cleanup(func() { _ = ps.Close() })
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub: ps,
		Logger: watermill.NopLogger{},
		Retry:  messagebus.HandlerRetryPolicy{MaxRetries: testMaxRetries, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond},
	})
	if err != nil {
		b.Fatal(err)
	}
	h := &benchHarness{bus: bus, lines: make(chan string, 1024), closed: make(chan struct{})}
	h.app, err = app.NewApplication(app.Dependencies{
		UnitOfWork:     memory.NewUnitOfWork(messagebus.NewBusEventPublisher(bus.EventBus)),
		View:           memory.NewAllocationsView(),
		Notifier:       &fakeNotifier{},
		HandledEvents:  memory.NewHandledEvents(1000),
		Commands:       bus.CommandBus,
		ExternalEvents: signallingPublisher{lines: h.lines, closed: h.closed},
		ConflictRetry:  app.ConflictRetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 50 * time.Millisecond},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := bus.AddHandlers(h.app.CommandHandlers(), h.app.EventHandlers()); err != nil {
		b.Fatal(err)
	}
	testenv.RunRouter(b, bus.Router)
	// Runs before the router's clean-up: handlers still in flight must not
	// wait for a reader that is gone.
	b.Cleanup(func() { close(h.closed) })
	return h
}

// signallingPublisher is the external publisher: it passes the order id on.
type signallingPublisher struct {
	lines  chan<- string
	closed <-chan struct{}
}

func (p signallingPublisher) PublishLineAllocated(_ context.Context, e domain.Allocated) error {
	select {
	case p.lines <- e.OrderID:
	case <-p.closed:
	}
	return nil
}

// newSKU adds a product with one large warehouse batch.
func (h *benchHarness) newSKU(b *testing.B, name string) string {
	b.Helper()
	sku := name + "-" + watermill.NewShortUUID()
	if err := h.app.AddBatch.Handle(context.Background(), &domain.CreateBatch{Ref: sku + "-b1", SKU: sku, Qty: 1_000_000_000}); err != nil {
		b.Fatal(err)
	}
	return sku
}

// linesPerProduct bounds how many lines a product takes before the
// benchmarks move to a fresh one, so that products, which are copied on
// every load, do not grow with b.N and make later iterations slower.
const linesPerProduct = 100

// skuFor is the sku of the i-th allocation: a fresh product, made off the
// clock, every linesPerProduct allocations.
func (h *benchHarness) skuFor(b *testing.B, i int, name, current string) string {
	if i%linesPerProduct != 0 {
		return current
	}
	b.StopTimer()
	defer b.StartTimer()
	return h.newSKU(b, name)
}

// BenchmarkCommandBusRoundTrip sends Allocate on the gochannel command bus
// and waits for the Allocated event's PublishLineAllocated handler: the
// command processor, the handler's transaction, the event bus and the
// event processor, each with the router's middleware (poison queue, retry,
// recoverer, correlation id). One message in flight at a time: latency.
func BenchmarkCommandBusRoundTrip(b *testing.B) {
	h := newBenchHarness(b)
	ctx := context.Background()
	var sku string
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sku = h.skuFor(b, i, "BENCH-RT", sku)
		orderID := fmt.Sprintf("order-%d", i)
		if err := h.bus.CommandBus.Send(ctx, &domain.Allocate{OrderID: orderID, SKU: sku, Qty: 1}); err != nil {
			b.Fatal(err)
		}
		select {
		case got := <-h.lines:
			if got != orderID {
				b.Fatalf("line_allocated for %s, want %s", got, orderID)
			}
		case <-time.After(10 * time.Second):
			b.Fatalf("no line_allocated for %s within 10s", orderID)
		}
	}
}

// BenchmarkAllocateHandlerInMemory is the synchronous path of POST
// /allocate without HTTP: the Allocate handler on the in-memory store,
// publishing Allocated on the gochannel event bus (whose handlers then run
// concurrently, as in the service). It waits for nothing asynchronous.
func BenchmarkAllocateHandlerInMemory(b *testing.B) {
	h := newBenchHarness(b)
	ctx := context.Background()
	// Drain line_allocated signals: nobody waits for them here.
	go func() {
		for {
			select {
			case <-h.lines:
			case <-h.closed:
				return
			}
		}
	}()
	var sku string
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sku = h.skuFor(b, i, "BENCH-SYNC", sku)
		if _, err := h.app.Allocate.Handle(ctx, &domain.Allocate{OrderID: fmt.Sprintf("order-%d", i), SKU: sku, Qty: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
