package messagebus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/memory"
	"allocation/adapters/messagebus"
	"allocation/adapters/natsbroker"
	"allocation/app"
	"allocation/domain"
	"allocation/tests/testenv"
)

// brokerCase builds a pub/sub for the shared handler suite. Every broker
// the service supports runs the same tests.
type brokerCase struct {
	name      string
	newPubSub func(t *testing.T) messagebus.PubSub
}

// harness is the service layer running on real Watermill buses with
// in-memory adapters and fakes.
type harness struct {
	t        *testing.T
	bus      *messagebus.MessageBus
	app      app.Application
	uow      *memory.UnitOfWork
	view     *memory.AllocationsView
	notifier *fakeNotifier
	external *fakeExternalPublisher
	poison   *collector
	events   map[string]*collector
	handled  *handledCounter
	pubsub   messagebus.PubSub
}

const testMaxRetries = 3

func newHarness(t *testing.T, broker brokerCase) *harness {
	t.Helper()
	ps := broker.newPubSub(t)
	logger := watermill.NopLogger{}
	handled := &handledCounter{counts: map[string]int{}}
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub:      ps,
		Logger:      logger,
		Retry:       messagebus.HandlerRetryPolicy{MaxRetries: testMaxRetries, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond},
		Middlewares: []message.HandlerMiddleware{handled.middleware},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t:        t,
		bus:      bus,
		uow:      memory.NewUnitOfWork(messagebus.NewBusEventPublisher(bus.EventBus)),
		view:     memory.NewAllocationsView(),
		notifier: &fakeNotifier{},
		external: &fakeExternalPublisher{},
		events:   map[string]*collector{},
		handled:  handled,
		pubsub:   ps,
	}
	h.app, err = app.NewApplication(app.Dependencies{
		UnitOfWork:     h.uow,
		View:           h.view,
		Notifier:       h.notifier,
		HandledEvents:  memory.NewHandledEvents(1000),
		Commands:       bus.CommandBus,
		ExternalEvents: h.external,
		ConflictRetry:  app.ConflictRetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.AddHandlers(h.app.CommandHandlers(), h.app.EventHandlers()); err != nil {
		t.Fatal(err)
	}
	// Test subscribers listen like any other consumer group.
	h.poison = h.collect(ps, messagebus.PoisonTopic, "test.poison")
	for _, name := range []string{"Allocated", "Deallocated", "OutOfStock"} {
		h.events[name] = h.collect(ps, messagebus.EventTopic(name), "test.events."+name)
	}
	testenv.RunRouter(t, bus.Router)
	return h
}

func (h *harness) collect(ps messagebus.PubSub, topic, group string) *collector {
	sub, err := ps.Subscriber(group)
	if err != nil {
		h.t.Fatal(err)
	}
	messages := testenv.Subscribe(h.t, sub, topic)
	c := &collector{}
	go func() {
		for m := range messages {
			c.add(m)
			m.Ack()
		}
	}()
	return c
}

func (h *harness) addBatch(ref, sku string, qty int, eta *time.Time) {
	h.t.Helper()
	if err := h.app.AddBatch.Handle(context.Background(), &domain.CreateBatch{Ref: ref, SKU: sku, Qty: qty, ETA: eta}); err != nil {
		h.t.Fatalf("add batch %s: %v", ref, err)
	}
}

// inStockAndLater adds two batches of ten of a new sku, one in stock and
// one arriving later, and returns the sku and their refs.
func (h *harness) inStockAndLater(name string) (sku, inStock, later string) {
	h.t.Helper()
	sku, inStock, later = uniq(name), uniq("b1"), uniq("b2")
	h.addBatch(inStock, sku, 10, nil)
	h.addBatch(later, sku, 10, date("2030-01-01"))
	return sku, inStock, later
}

// allocatedOne adds a batch of ten of a new sku and allocates one of it to
// a new order, returning the sku, the order and the batch's ref.
func (h *harness) allocatedOne(name string) (sku, order, ref string) {
	h.t.Helper()
	sku, order, ref = uniq(name), uniq("o1"), uniq("b1")
	h.addBatch(ref, sku, 10, nil)
	if _, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: 1}); err != nil {
		h.t.Fatal(err)
	}
	return sku, order, ref
}

// product reads a product's committed state.
func (h *harness) product(sku string) *domain.Product {
	h.t.Helper()
	tx, err := h.uow.Begin(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	p, err := tx.Products().Get(context.Background(), sku)
	if err != nil {
		h.t.Fatalf("product %s: %v", sku, err)
	}
	return p
}

// eventually waits for cond with a deadline, failing the test with what.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, cond)
}

type collector struct {
	mu       sync.Mutex
	messages []*message.Message
}

func (c *collector) add(m *message.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages = append(c.messages, m)
}

func (c *collector) all() []*message.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*message.Message(nil), c.messages...)
}

func (c *collector) find(match func(*message.Message) bool) *message.Message {
	for _, m := range c.all() {
		if match(m) {
			return m
		}
	}
	return nil
}

type fakeNotifier struct {
	mu       sync.Mutex
	subjects []string
}

func (n *fakeNotifier) Notify(_ context.Context, subject, _ string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subjects = append(n.subjects, subject)
	return nil
}

func (n *fakeNotifier) sent() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.subjects...)
}

// fakeExternalPublisher records what would go to other services; failWith
// makes it fail, to test retries and the poison queue.
type fakeExternalPublisher struct {
	mu           sync.Mutex
	published    []domain.Allocated
	correlations []string
	attempts     int
	failWith     error
}

func (p *fakeExternalPublisher) PublishLineAllocated(ctx context.Context, e domain.Allocated) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if p.failWith != nil {
		return p.failWith
	}
	p.published = append(p.published, e)
	p.correlations = append(p.correlations, app.CorrelationIDFromContext(ctx))
	return nil
}

func (p *fakeExternalPublisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failWith = err
}

func (p *fakeExternalPublisher) snapshot() (published []domain.Allocated, correlations []string, attempts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]domain.Allocated(nil), p.published...), append([]string(nil), p.correlations...), p.attempts
}

var errBrokerAway = errors.New("broker briefly away")

// handledCounter counts successful handlings per handler and message UUID,
// so that tests can wait until a redelivered message was really handled.
type handledCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *handledCounter) middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		produced, err := h(msg)
		if err == nil {
			c.mu.Lock()
			c.counts[message.HandlerNameFromCtx(msg.Context())+"/"+msg.UUID]++
			c.mu.Unlock()
		}
		return produced, err
	}
}

func (c *handledCounter) count(handler, uuid string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[handler+"/"+uuid]
}

// redeliver publishes a copy of msg again on topic, as an at-least-once
// broker does after a lost acknowledgement. The copy says it replays the
// message, as the poison queue's replays do, or JetStream's duplicate
// window would drop it.
func (h *harness) redeliver(topic string, msg *message.Message) {
	h.t.Helper()
	again := msg.Copy()
	again.Metadata.Set(natsbroker.ReplayOfKey, "redelivery")
	if err := h.pubsub.Publisher().Publish(topic, again); err != nil {
		h.t.Fatal(err)
	}
}

// handledBy sums the successful handlings of one handler, any message.
func (c *handledCounter) handledBy(handler string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.counts {
		if strings.HasPrefix(k, handler+"/") {
			n += v
		}
	}
	return n
}
