package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
	"allocation/tests/testenv"
)

// idleForever is an idle poll interval no test outlives: whatever an idle
// relay relays within a test, it relays because it was woken.
const idleForever = time.Hour

// queueingDestination queues what is published and completes it on Flush,
// like pubsub.RedisPipelinedPublisher; its first publishes or flushes fail,
// and what a failed flush had queued is lost.
type queueingDestination struct {
	mu            sync.Mutex
	failPublishes int
	failFlushes   int
	published     map[string]int // times each UUID was given to Publish
	queued        []string
	flushed       []string
}

func (d *queueingDestination) Publish(_ string, msgs ...*message.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failPublishes > 0 {
		d.failPublishes--
		return errors.New("redis refused the message")
	}
	for _, m := range msgs {
		d.published[m.UUID]++
		d.queued = append(d.queued, m.UUID)
	}
	return nil
}

func (d *queueingDestination) Flush(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	queued := d.queued
	d.queued = nil
	if d.failFlushes > 0 {
		d.failFlushes--
		return errors.New("redis is away")
	}
	d.flushed = append(d.flushed, queued...)
	return nil
}

func (d *queueingDestination) Close() error { return nil }

func (d *queueingDestination) state() (flushed []string, published map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.flushed), maps.Clone(d.published)
}

// runRelay runs an outbox relay until the test ends, and then checks that
// it stopped without waiting for its idle interval.
func runRelay(t *testing.T, db *sql.DB, destination postgres.RelayDestination, polling postgres.RelayPolling) *postgres.OutboxRelay {
	t.Helper()
	if polling.Interval == 0 {
		polling.Interval = time.Millisecond
	}
	relay, err := postgres.NewOutboxRelay(db, destination, polling, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- relay.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("the relay did not stop within %s", waitTimeout)
		}
	})
	return relay
}

// newDestination is an in-memory broker and a subscription to Allocated.
func newDestination(t *testing.T) (*gochannel.GoChannel, <-chan *message.Message) {
	t.Helper()
	destination := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	t.Cleanup(func() { _ = destination.Close() })
	messages, err := destination.Subscribe(context.Background(), allocatedTopic)
	if err != nil {
		t.Fatal(err)
	}
	return destination, messages
}

// An event leaves the outbox only once the destination has it: after a
// failed publish or flush the batch is published again, and the outbox is
// empty only once a flush succeeded.
func TestOutboxRelayRelaysAgainAfterTheDestinationFailed(t *testing.T) {
	t.Parallel()
	for name, destination := range map[string]*queueingDestination{
		"publish fails": {failPublishes: 2},
		"flush fails":   {failFlushes: 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := newTestDB(t)
			uow := newUnitOfWork(t, db, postgres.RelayedOutbox)
			ref, sku := unique("b"), unique("FLUSHED")
			addBatch(t, uow, ref, sku, 10, nil)
			event := app.EventID(allocate(t, db, uow, ref, sku, 3))

			destination.published = map[string]int{}
			runRelay(t, db, postgres.RelayDestination{Publisher: destination, Flush: destination.Flush}, postgres.RelayPolling{})

			testenv.Eventually(t, waitTimeout, "the event flushed", func() bool {
				flushed, _ := destination.state()
				return slices.Contains(flushed, event)
			})
			if _, published := destination.state(); name == "flush fails" && published[event] != 3 {
				t.Errorf("event published %d times, want 3: again after each of the 2 failed flushes", published[event])
			}
			testenv.Eventually(t, waitTimeout, "the outbox empty", func() bool { return outboxMessages(t, db) == 0 })
		})
	}
}

// stalledDestination records the UUIDs published, in order; it holds
// its first Publish until release is closed, and tells of any other
// Publish meanwhile.
type stalledDestination struct {
	recordingOutbox
	first            sync.Once
	stalled, release chan struct{}
	others           chan struct{}
}

func (d *stalledDestination) Publish(_ string, msgs ...*message.Message) error {
	first := false
	d.first.Do(func() { first = true })
	if first {
		close(d.stalled)
		<-d.release
	} else {
		select {
		case d.others <- struct{}{}:
		default:
		}
	}
	return d.recordingOutbox.Publish("", msgs...)
}

// Several relays over one outbox deliver events in the order of the
// commits that stored them: while one relay publishes, the others leave
// even the events committed meanwhile alone.
func TestOutboxRelaysKeepTheOrderOfCommits(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	uow := newUnitOfWork(t, db, postgres.RelayedOutbox)
	ref, sku := unique("b"), unique("ORDER")
	addBatch(t, uow, ref, sku, 100, nil)
	destination := &stalledDestination{stalled: make(chan struct{}), release: make(chan struct{}), others: make(chan struct{}, 1)}
	for range 3 {
		runRelay(t, db, postgres.RelayDestination{Publisher: destination}, postgres.RelayPolling{Interval: time.Millisecond})
	}

	committed := []string{app.EventID(allocate(t, db, uow, ref, sku, 1))}
	select {
	case <-destination.stalled:
	case <-time.After(waitTimeout):
		t.Fatalf("no relay published within %s", waitTimeout)
	}
	for range 5 {
		committed = append(committed, app.EventID(allocate(t, db, uow, ref, sku, 1)))
	}
	// The other relays poll every millisecond: a publish would come at once.
	select {
	case <-destination.others:
	case <-time.After(300 * time.Millisecond):
	}
	close(destination.release)

	testenv.Eventually(t, waitTimeout, "every event published", func() bool { return len(destination.ids()) >= len(committed) })
	if received := destination.ids(); !slices.Equal(received, committed) {
		t.Errorf("events received in the order\n%v\nwant the order of their commits\n%v", received, committed)
	}
}

// A commit that stores events notifies the signal; one that stores none,
// and a command that fails, do not.
func TestUnitOfWorkSignalsOnlyCommitsOfEvents(t *testing.T) {
	t.Parallel()
	signal := postgres.NewOutboxSignal()
	uow, err := postgres.NewPostgresUnitOfWork(newTestDB(t), postgres.RelayedOutbox, watermill.NopLogger{}, postgres.WithCommitNotify(signal.Notify))
	if err != nil {
		t.Fatal(err)
	}
	allocate := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow)))
	sku := unique("SIGNAL")

	addBatch(t, uow, unique("b"), sku, 10, nil)
	if notified(signal) {
		t.Fatal("adding a batch (no event) notified")
	}
	if _, err := allocate.Handle(context.Background(), &domain.Allocate{OrderID: unique("o"), SKU: unique("NOSUCH"), Qty: 1}); err == nil {
		t.Fatal("allocating an unknown sku succeeded")
	}
	if notified(signal) {
		t.Fatal("a failed command notified")
	}
	if _, err := allocate.Handle(context.Background(), &domain.Allocate{OrderID: unique("o"), SKU: sku, Qty: 1}); err != nil {
		t.Fatal(err)
	}
	if !notified(signal) {
		t.Fatal("committing Allocated did not notify")
	}
}

// notified takes a pending notification, without waiting.
func notified(s *postgres.OutboxSignal) bool {
	select {
	case <-s.C():
		return true
	default:
		return false
	}
}

// An idle relay relays this process's events as soon as they are
// committed, not at its idle interval.
func TestIdleRelayIsWokenByCommits(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	signal := postgres.NewOutboxSignal()
	uow, err := postgres.NewPostgresUnitOfWork(db, postgres.RelayedOutbox, watermill.NopLogger{}, postgres.WithCommitNotify(signal.Notify))
	if err != nil {
		t.Fatal(err)
	}
	ref, sku := unique("b"), unique("WAKE")
	addBatch(t, uow, ref, sku, 10, nil)
	destination, messages := newDestination(t)
	relay := runRelay(t, db, postgres.RelayDestination{Publisher: destination}, postgres.RelayPolling{IdleInterval: idleForever, Signal: signal})
	select {
	case <-relay.Running():
		// Having found nothing on its first poll, the relay is idle.
	case <-time.After(waitTimeout):
		t.Fatalf("the relay did not poll within %s", waitTimeout)
	}

	waitForMessage(t, messages, app.EventID(allocate(t, db, uow, ref, sku, 2)))
}
