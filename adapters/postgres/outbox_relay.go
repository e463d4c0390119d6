package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/internal/idlepoll"
	"allocation/adapters/messagebus"
)

const (
	// OutboxTopic is the watermill-sql topic holding the enveloped events
	// of committed transactions until the forwarder relays them.
	OutboxTopic = "allocation.outbox"
	// outboxConsumerGroup is the forwarder's offset: every forwarder
	// instance shares it, so each event is relayed by one of them.
	outboxConsumerGroup = "allocation.outbox"
	// DefaultOutboxPollInterval bounds the delay an event waits in the
	// outbox. An event chain (change of quantity -> Deallocated ->
	// Allocate -> Allocated) waits twice; at 10 ms the external round trip
	// p99 was 32 ms, at 2 ms 14 ms, for ~0.1 core of idle polling on each
	// of the service and PostgreSQL (measured, BENCHMARKS.md).
	DefaultOutboxPollInterval = 2 * time.Millisecond
)

// ForwarderOutbox stores events, enveloped with their destination topic,
// on OutboxTopic in the transaction (BROKER=memory or redis); the relay
// made by NewOutboxRelay publishes them to the broker after commit.
func ForwarderOutbox(logger watermill.LoggerAdapter) OutboxPublisherFactory {
	return func(tx *sql.Tx) (message.Publisher, error) {
		p, err := newTxPublisher(tx, logger)
		if err != nil {
			return nil, err
		}
		return forwarder.NewPublisher(p, forwarder.PublisherConfig{ForwarderTopic: OutboxTopic}), nil
	}
}

// RelayDestination is where the outbox relay publishes.
type RelayDestination struct {
	Publisher message.Publisher
	// Flush, when set, completes what Publisher accepted (a publisher that
	// queues, such as pubsub.RedisPipelinedPublisher). The relay calls it
	// before it records a batch as relayed, so a batch counts as relayed
	// only once Flush returned nil; after an error the batch is read and
	// published again.
	Flush func(context.Context) error
}

// OutboxSignal says that this process committed events to the outbox
// (NewOutboxSignal; Notify never blocks, and notifications merge).
type OutboxSignal = idlepoll.Signal

func NewOutboxSignal() *OutboxSignal { return idlepoll.NewSignal() }

// RelayPolling is how the outbox relay polls the outbox table. Polling
// every 2 ms while idle kept ~0.15 core of the service and ~0.1 core of
// PostgreSQL busy (measured); events committed by another process are
// relayed by that process's relay, or by this one within IdleInterval if
// it died first.
type RelayPolling struct {
	// Interval between polls while events flow, and for IdleInterval
	// after the last one. Default DefaultOutboxPollInterval.
	Interval time.Duration
	// IdleInterval between polls once no event has come for that long;
	// an idle relay also polls at once when Signal says that this process
	// committed events. Zero never idles: a poll every Interval.
	IdleInterval time.Duration
	// Signal is notified by this process's unit of work after it commits
	// events (WithCommitNotify(signal.Notify)); nil: an idle relay polls
	// every IdleInterval only.
	Signal *OutboxSignal
}

// OutboxRelay relays the outbox to the broker (a Watermill forwarder).
type OutboxRelay struct {
	forwarder *forwarder.Forwarder
	backoff   *idlepoll.Backoff
}

// NewOutboxRelay returns the relay from OutboxTopic to the destination,
// keeping message UUIDs and metadata. It is not started: call Run(ctx) and
// Close() when done; Running() is closed once it consumes. Events committed
// while no relay runs wait in the outbox. Several relays may run at once.
func NewOutboxRelay(db *sql.DB, destination RelayDestination, polling RelayPolling, logger watermill.LoggerAdapter) (*OutboxRelay, error) {
	if polling.Interval <= 0 {
		polling.Interval = DefaultOutboxPollInterval
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	var offsets watermillsql.OffsetsAdapter = watermillsql.DefaultPostgreSQLOffsetsAdapter{}
	if destination.Flush != nil {
		offsets = flushingOffsetsAdapter{OffsetsAdapter: offsets, flush: destination.Flush, logger: logger}
	}
	// Between polls while events flow: BatchingBackoff, so that they
	// gather; once idle, a wait for this process's commits.
	backoff := idlepoll.New(NewBatchingBackoff(polling.Interval, polling.Interval, time.Second), polling.IdleInterval, polling.Signal)
	subscriber, err := watermillsql.NewSubscriber(db, watermillsql.SubscriberConfig{
		ConsumerGroup:    outboxConsumerGroup,
		PollInterval:     polling.Interval,
		BackoffManager:   backoff,
		SchemaAdapter:    watermillsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter:   offsets,
		InitializeSchema: true,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("creating outbox subscriber: %w", err)
	}
	f, err := forwarder.NewForwarder(subscriber, destination.Publisher, logger, forwarder.Config{
		ForwarderTopic: OutboxTopic,
		Middlewares:    []message.HandlerMiddleware{messagebus.HandlerWorkersMiddleware()},
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("creating outbox forwarder: %w", err), subscriber.Close())
	}
	return &OutboxRelay{forwarder: f, backoff: backoff}, nil
}

// Run relays until ctx is cancelled.
func (r *OutboxRelay) Run(ctx context.Context) error {
	// An idle relay waits for a signal inside the subscriber's polling
	// loop; end that wait, or closing would wait for the idle interval.
	stopWaiting := context.AfterFunc(ctx, r.backoff.Stop)
	defer stopWaiting()
	return r.forwarder.Run(ctx)
}

// Running is closed once the relay consumes.
func (r *OutboxRelay) Running() chan struct{} { return r.forwarder.Running() }

// Close stops the relay.
func (r *OutboxRelay) Close() error {
	r.backoff.Stop()
	return r.forwarder.Close()
}
