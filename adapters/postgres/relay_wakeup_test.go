package postgres_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

// idleForever is an idle poll interval no test outlives: whatever an idle
// relay relays within a test, it relays because it was woken.
const idleForever = time.Hour

func newSignallingUnitOfWork(t *testing.T, db *sql.DB, signal *postgres.OutboxSignal) *postgres.PostgresUnitOfWork {
	t.Helper()
	uow, err := postgres.NewPostgresUnitOfWork(db, postgres.ForwarderOutbox(watermill.NopLogger{}), watermill.NopLogger{}, postgres.WithCommitNotify(signal.Notify))
	if err != nil {
		t.Fatal(err)
	}
	return uow
}

// A commit that stores events notifies the signal; one that stores none,
// and a command that fails, do not.
func TestUnitOfWorkSignalsOnlyCommitsOfEvents(t *testing.T) {
	t.Parallel()
	signal := postgres.NewOutboxSignal()
	uow := newSignallingUnitOfWork(t, newTestDB(t), signal)
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

// startIdleRelay runs a relay that, once idle, polls only when signalled,
// and waits until it is idle.
func startIdleRelay(t *testing.T, db *sql.DB, signal *postgres.OutboxSignal, destination *gochannel.GoChannel) (relay *postgres.OutboxRelay, stop func() error) {
	t.Helper()
	relay, err := postgres.NewOutboxRelay(db, postgres.RelayDestination{Publisher: destination},
		postgres.RelayPolling{IdleInterval: idleForever, Signal: signal}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- relay.Run(ctx) }()
	var (
		once    sync.Once
		stopErr error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-stopped:
			case <-time.After(waitTimeout):
				t.Errorf("the relay did not stop within %s", waitTimeout)
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	eventually(t, "the relay idle", func() bool { return relay.IdleWaits() > 0 })
	return relay, stop
}

// An idle relay relays this process's events as soon as they are
// committed, not at its idle interval.
func TestIdleRelayIsWokenByCommits(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	signal := postgres.NewOutboxSignal()
	uow := newSignallingUnitOfWork(t, db, signal)
	sku, ref, order := unique("WAKE"), unique("b"), unique("o")
	addBatch(t, uow, ref, sku, 10, nil)
	version := productVersion(t, db, sku)

	destination := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	t.Cleanup(func() { _ = destination.Close() })
	messages, err := destination.Subscribe(context.Background(), allocatedTopic)
	if err != nil {
		t.Fatal(err)
	}
	startIdleRelay(t, db, signal, destination)

	if _, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: 2}); err != nil {
		t.Fatal(err)
	}
	waitForMessage(t, messages, app.EventID(domain.Allocated{OrderID: order, SKU: sku, Qty: 2, BatchRef: ref, Version: version + 1}))
}

// Stopping an idle relay does not wait for its idle interval.
func TestIdleRelayStopsAtOnce(t *testing.T) {
	t.Parallel()
	destination := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	t.Cleanup(func() { _ = destination.Close() })
	_, stop := startIdleRelay(t, newTestDB(t), postgres.NewOutboxSignal(), destination)
	if err := stop(); err != nil {
		t.Fatalf("relay: %v", err)
	}
}
