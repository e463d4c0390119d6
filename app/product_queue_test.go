package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"allocation/adapters/memory"
	"allocation/app"
	"allocation/domain"
)

// gatedStore is the in-memory store with a gate on Begin: a test holds a
// burst's transaction open while more commands queue behind it. It also
// records the events published and the correlation id each went with.
type gatedStore struct {
	*memory.UnitOfWork
	mu        sync.Mutex
	begins    int
	gate      chan struct{} // nil: Begin does not wait
	begun     chan struct{} // receives once per Begin that waits
	published []publishedEvent
	beginErr  error
}

type publishedEvent struct {
	event       domain.Event
	correlation string
}

func newGatedStore() *gatedStore {
	s := &gatedStore{begun: make(chan struct{}, 16)}
	s.UnitOfWork = memory.NewUnitOfWork(eventRecorder{s})
	return s
}

type eventRecorder struct{ s *gatedStore }

func (r eventRecorder) PublishEvents(ctx context.Context, events []domain.Event) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for _, e := range events {
		r.s.published = append(r.s.published, publishedEvent{event: e, correlation: app.CorrelationIDFromContext(ctx)})
	}
	return nil
}

func (s *gatedStore) Begin(ctx context.Context) (app.Transaction, error) {
	s.mu.Lock()
	s.begins++
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		s.begun <- struct{}{}
		<-gate
	}
	s.mu.Lock()
	err := s.beginErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.UnitOfWork.Begin(ctx)
}

// hold makes the next transactions wait until the returned function runs.
func (s *gatedStore) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

func (s *gatedStore) transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begins
}

func (s *gatedStore) allocatedEvents() []domain.Allocated {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Allocated
	for _, p := range s.published {
		if a, ok := p.event.(domain.Allocated); ok {
			out = append(out, a)
		}
	}
	return out
}

// allocatedOrders lists the orders of the published Allocated events.
// wantAllocated checks the orders whose allocations were published, in
// the order they were.
func (s *gatedStore) wantAllocated(t *testing.T, want ...string) {
	t.Helper()
	var orders []string
	for _, e := range s.allocatedEvents() {
		orders = append(orders, e.OrderID)
	}
	if !slices.Equal(orders, want) {
		t.Errorf("allocated %v, want %v", orders, want)
	}
}

type queueFixture struct {
	store    *gatedStore
	queue    *app.ProductQueue
	allocate app.AllocateHandler
	addBatch app.AddBatchHandler
	change   app.ChangeBatchQuantityHandler
}

func newQueueFixture(t *testing.T) *queueFixture {
	store := newGatedStore()
	queue := app.NewProductQueue(app.NewTransactionRunner(store, app.ConflictRetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 50 * time.Millisecond}, nil))
	t.Cleanup(func() { _ = queue.Close(context.Background()) })
	return &queueFixture{
		store:    store,
		queue:    queue,
		allocate: app.NewAllocateHandler(queue),
		addBatch: app.NewAddBatchHandler(queue),
		change:   app.NewChangeBatchQuantityHandler(queue),
	}
}

func (f *queueFixture) mustAddBatch(t *testing.T, ref, sku string, qty int) {
	t.Helper()
	if err := f.addBatch.Handle(context.Background(), &domain.CreateBatch{Ref: ref, SKU: sku, Qty: qty}); err != nil {
		t.Fatalf("adding batch %s: %v", ref, err)
	}
}

// outcome is what one sender got.
type outcome struct {
	batchRef string
	err      error
}

// startHeldBurst starts a command whose burst waits in Begin until release,
// so that the commands sent next queue behind it and form the next burst.
func (f *queueFixture) startHeldBurst(t *testing.T, run func() outcome) (release func(), first <-chan outcome) {
	t.Helper()
	release = f.store.hold()
	done := make(chan outcome, 1)
	go func() { done <- run() }()
	select {
	case <-f.store.begun:
	case <-time.After(10 * time.Second):
		t.Fatal("the first burst did not begin")
	}
	return release, done
}

// send runs cmd in the background and waits until it is queued, so that
// the order of sends is the order of arrival.
func (f *queueFixture) send(t *testing.T, sku string, run func() outcome) <-chan outcome {
	t.Helper()
	before := f.queue.Waiting(sku)
	done := make(chan outcome, 1)
	go func() { done <- run() }()
	eventually(t, "the command to be queued", func() bool { return f.queue.Waiting(sku) == before+1 })
	return done
}

// newLampQueue is a queue fixture with a batch b1 of five LAMPs.
func newLampQueue(t *testing.T) *queueFixture {
	t.Helper()
	f := newQueueFixture(t)
	f.mustAddBatch(t, "b1", "LAMP", 5)
	return f
}

// oneLamp allocates one LAMP to the order.
func (f *queueFixture) oneLamp(order string) func() outcome {
	return f.allocateFn(context.Background(), order, "LAMP", 1)
}

func (f *queueFixture) allocateFn(ctx context.Context, order, sku string, qty int) func() outcome {
	return func() outcome {
		ref, err := f.allocate.Handle(ctx, &domain.Allocate{OrderID: order, SKU: sku, Qty: qty})
		return outcome{ref, err}
	}
}

func receive(t *testing.T, c <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
		return outcome{}
	}
}

// Commands that arrive while a product's burst runs are applied together,
// in arrival order, in one transaction; each sender gets its own result.
func TestCommandsArrivingTogetherCommitInOneTransactionInArrivalOrder(t *testing.T) {
	f := newQueueFixture(t)
	f.mustAddBatch(t, "b1", "LAMP", 3)
	f.mustAddBatch(t, "b2", "LAMP", 10)
	release, first := f.startHeldBurst(t, f.oneLamp("o0"))
	before := f.store.transactions()

	var results []<-chan outcome
	for i := 1; i <= 5; i++ {
		results = append(results, f.send(t, "LAMP", f.allocateFn(context.Background(), fmt.Sprintf("o%d", i), "LAMP", 1)))
	}
	release()

	if o := receive(t, first); o.err != nil || o.batchRef != "b1" {
		t.Fatalf("o0 = %+v, want b1", o)
	}
	// b1 holds 3: o0, then o1 and o2 in arrival order; the rest go to b2.
	want := []string{"b1", "b1", "b2", "b2", "b2"}
	for i, c := range results {
		if o := receive(t, c); o.err != nil || o.batchRef != want[i] {
			t.Errorf("o%d = %+v, want %s", i+1, o, want[i])
		}
	}
	if n := f.store.transactions() - before; n != 1 {
		t.Errorf("%d transactions for the five queued commands, want 1", n)
	}
	events := f.store.allocatedEvents()
	for i := 1; i < len(events); i++ {
		if events[i].Version != events[i-1].Version+1 || events[i].OrderID != fmt.Sprintf("o%d", i) {
			t.Errorf("events out of order: %+v then %+v", events[i-1], events[i])
		}
	}
}

// A command that fails for its own reason (out of stock, unknown batch, a
// duplicate reference in the product or in another product) gets its error;
// its neighbours in the burst are applied and committed.
func TestACommandFailingForItsOwnReasonDoesNotFailItsNeighbours(t *testing.T) {
	f := newQueueFixture(t)
	f.mustAddBatch(t, "b1", "LAMP", 5)
	f.mustAddBatch(t, "other-product-batch", "TABLE", 5)
	release, first := f.startHeldBurst(t, f.oneLamp("o0"))

	ok1 := f.send(t, "LAMP", f.allocateFn(context.Background(), "o1", "LAMP", 2))
	tooMany := f.send(t, "LAMP", f.allocateFn(context.Background(), "o2", "LAMP", 50))
	dupInProduct := f.send(t, "LAMP", func() outcome {
		return outcome{err: f.addBatch.Handle(context.Background(), &domain.CreateBatch{Ref: "b1", SKU: "LAMP", Qty: 1})}
	})
	dupElsewhere := f.send(t, "LAMP", func() outcome {
		return outcome{err: f.addBatch.Handle(context.Background(), &domain.CreateBatch{Ref: "other-product-batch", SKU: "LAMP", Qty: 1})}
	})
	ok2 := f.send(t, "LAMP", f.allocateFn(context.Background(), "o3", "LAMP", 2))
	release()

	for name, c := range map[string]<-chan outcome{"o0": first, "o1": ok1, "o3": ok2} {
		if o := receive(t, c); o.err != nil || o.batchRef != "b1" {
			t.Errorf("%s = %+v, want b1", name, o)
		}
	}
	if o := receive(t, tooMany); !errors.As(o.err, new(domain.OutOfStockError)) {
		t.Errorf("o2 err = %v, want OutOfStockError", o.err)
	}
	for name, c := range map[string]<-chan outcome{"duplicate in product": dupInProduct, "duplicate elsewhere": dupElsewhere} {
		if o := receive(t, c); !errors.As(o.err, new(domain.DuplicateBatchError)) {
			t.Errorf("%s err = %v, want DuplicateBatchError", name, o.err)
		}
	}
	f.store.wantAllocated(t, "o0", "o1", "o3")
}

// A store that fails (a database away) fails every command of the burst:
// none was committed, and each sender learns it.
func TestAFailingStoreFailsEveryCommandOfTheBurst(t *testing.T) {
	f := newLampQueue(t)
	release, first := f.startHeldBurst(t, f.oneLamp("o0"))
	second := f.send(t, "LAMP", f.oneLamp("o1"))
	third := f.send(t, "LAMP", f.oneLamp("o2"))
	databaseAway := errors.New("database away")
	f.store.mu.Lock()
	f.store.beginErr = databaseAway
	f.store.mu.Unlock()
	release()

	for _, c := range []<-chan outcome{first, second, third} {
		if o := receive(t, c); !errors.Is(o.err, databaseAway) {
			t.Errorf("err = %v, want %v", o.err, databaseAway)
		}
	}
	if n := len(f.store.allocatedEvents()); n != 0 {
		t.Errorf("%d allocations published, want none", n)
	}
}

// A sender that gives up while its command waits takes it out of the
// queue; one that gives up once its burst has begun leaves the burst as it
// is: the burst commits, its neighbours get their results.
func TestACancelledSenderLeavesTheBurstIntact(t *testing.T) {
	f := newLampQueue(t)
	startedCtx, cancelStarted := context.WithCancel(context.Background())
	release, started := f.startHeldBurst(t, f.allocateFn(startedCtx, "o-started", "LAMP", 1))
	waitingCtx, cancelWaiting := context.WithCancel(context.Background())
	waiting := f.send(t, "LAMP", f.allocateFn(waitingCtx, "o-waiting", "LAMP", 1))
	neighbour := f.send(t, "LAMP", f.oneLamp("o-neighbour"))

	cancelStarted()
	if o := receive(t, started); !errors.Is(o.err, context.Canceled) {
		t.Errorf("started sender err = %v, want context.Canceled", o.err)
	}
	cancelWaiting()
	if o := receive(t, waiting); !errors.Is(o.err, context.Canceled) {
		t.Errorf("waiting sender err = %v, want context.Canceled", o.err)
	}
	if n := f.queue.Waiting("LAMP"); n != 1 {
		t.Errorf("%d commands waiting after a withdrawal, want 1", n)
	}
	release()
	if o := receive(t, neighbour); o.err != nil || o.batchRef != "b1" {
		t.Errorf("neighbour = %+v, want b1", o)
	}
	f.store.wantAllocated(t, "o-started", "o-neighbour")
}

// Shutdown refuses new commands at once and lets the queued ones commit.
func TestCloseDrainsQueuedCommandsAndRefusesNewOnes(t *testing.T) {
	f := newLampQueue(t)
	release, first := f.startHeldBurst(t, f.oneLamp("o0"))
	queued := f.send(t, "LAMP", f.oneLamp("o1"))

	closed := make(chan error, 1)
	go func() { closed <- f.queue.Close(context.Background()) }()
	eventually(t, "Close to begin", f.queue.Closed)
	if _, err := f.allocate.Handle(context.Background(), &domain.Allocate{OrderID: "late", SKU: "LAMP", Qty: 1}); !errors.As(err, new(app.ShuttingDownError)) {
		t.Errorf("command after Close err = %v, want ShuttingDownError", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a burst was running", err)
	default:
	}
	release()
	for _, c := range []<-chan outcome{first, queued} {
		if o := receive(t, c); o.err != nil {
			t.Errorf("queued command err = %v, want it committed", o.err)
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the queue drained")
	}
}

// Close gives up at its deadline when a burst does not end, and says so.
func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	f := newLampQueue(t)
	release, first := f.startHeldBurst(t, f.oneLamp("o0"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.queue.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want context.Canceled", err)
	}
	release()
	if o := receive(t, first); o.err != nil {
		t.Errorf("running burst err = %v", o.err)
	}
}

// Each command's events carry its own sender's correlation id, though the
// burst commits them together.
func TestEventsOfABurstKeepTheirSendersCorrelation(t *testing.T) {
	f := newLampQueue(t)
	release, first := f.startHeldBurst(t, f.allocateFn(app.WithCorrelationID(context.Background(), "corr-0"), "o0", "LAMP", 1))
	second := f.send(t, "LAMP", f.allocateFn(app.WithCorrelationID(context.Background(), "corr-1"), "o1", "LAMP", 1))
	third := f.send(t, "LAMP", f.allocateFn(app.WithCorrelationID(context.Background(), "corr-2"), "o2", "LAMP", 99))
	release()
	for _, c := range []<-chan outcome{first, second, third} {
		receive(t, c)
	}
	want := map[string]string{"Allocated/o0": "corr-0", "Allocated/o1": "corr-1", "OutOfStock/o2": "corr-2"}
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	got := map[string]string{}
	for _, p := range f.store.published {
		switch e := p.event.(type) {
		case domain.Allocated:
			got["Allocated/"+e.OrderID] = p.correlation
		case domain.OutOfStock:
			got["OutOfStock/"+e.OrderID] = p.correlation
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("correlations %v, want %v", got, want)
	}
}
