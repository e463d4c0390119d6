package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lib/pq"

	"allocation/adapters/internal/idlepoll"
)

const (
	// relayBatchSize bounds the events of one relay transaction, which the
	// destination gets with one Flush.
	relayBatchSize = 100
	// relayRetryInterval is the wait after a batch failed, so that a
	// broker that is away is not hammered.
	relayRetryInterval = time.Second
	// relayFlushTimeout bounds one Flush, during which every relay waits.
	relayFlushTimeout = 10 * time.Second
)

// RelayDestination is where the outbox relay publishes.
type RelayDestination struct {
	Publisher message.Publisher
	// Flush, when set, completes what Publisher accepted (a publisher that
	// queues, such as pubsub.RedisPipelinedPublisher); a batch leaves the
	// outbox only once Flush returned nil.
	Flush func(context.Context) error
}

// OutboxSignal says that this process committed events to the outbox
// (NewOutboxSignal; Notify never blocks, and notifications merge).
type OutboxSignal = idlepoll.Signal

func NewOutboxSignal() *OutboxSignal { return idlepoll.NewSignal() }

// RelayPolling is how the outbox relay polls the outbox table.
type RelayPolling struct {
	// Interval between polls while events flow, and for IdleInterval
	// after the last one; it bounds how long an event waits.
	Interval time.Duration
	// IdleInterval between polls once no event has come for that long, so
	// that events of a process whose relay died are still relayed; an idle
	// relay polls at once when Signal says that this process committed
	// events. Zero never idles: a poll every Interval.
	IdleInterval time.Duration
	// Signal is notified by this process's unit of work after it commits
	// events (WithCommitNotify(signal.Notify)).
	Signal *OutboxSignal
}

// OutboxRelay publishes the events of the outbox table to the broker and
// deletes them, oldest first, at least once each: message UUIDs stay the
// same, so consumers de-duplicate. Several relays may run at once.
type OutboxRelay struct {
	db          *sql.DB
	destination RelayDestination
	polling     RelayPolling
	logger      watermill.LoggerAdapter
	running     chan struct{}
}

// NewOutboxRelay returns a relay to the destination; Run starts it.
func NewOutboxRelay(db *sql.DB, destination RelayDestination, polling RelayPolling, logger watermill.LoggerAdapter) (*OutboxRelay, error) {
	if db == nil || destination.Publisher == nil || polling.Interval <= 0 {
		return nil, errors.New("outbox relay: a database, a destination and a poll interval are needed")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &OutboxRelay{db: db, destination: destination, polling: polling, logger: logger, running: make(chan struct{})}, nil
}

// Running is closed once the relay has polled the outbox once.
func (r *OutboxRelay) Running() <-chan struct{} { return r.running }

// Run relays until ctx is cancelled, then returns nil; call it once.
func (r *OutboxRelay) Run(ctx context.Context) error {
	var lastActive time.Time
	for first := true; ; first = false {
		relayed, err := r.relayBatch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if first {
			close(r.running)
		}
		if relayed > 0 {
			lastActive = time.Now()
		}
		wait := r.polling.Interval
		switch {
		case err != nil:
			r.logger.Error("Outbox relay could not relay a batch; it will be relayed again", err, nil)
			wait = relayRetryInterval
		case relayed == relayBatchSize:
			continue
		case r.polling.IdleInterval > 0 && time.Since(lastActive) >= r.polling.IdleInterval:
			if r.waitIdle(ctx) {
				lastActive = time.Now()
			}
			continue
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
}

// waitIdle waits for the signal, the idle interval or ctx; it tells
// whether the signal came.
func (r *OutboxRelay) waitIdle(ctx context.Context) bool {
	timer := time.NewTimer(r.polling.IdleInterval)
	defer timer.Stop()
	select {
	case <-r.polling.Signal.C():
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// relayBatch publishes the oldest events of the outbox and deletes them in
// one transaction, which rolls back when the destination fails so that
// they are published again; it returns how many it relayed.
func (r *OutboxRelay) relayBatch(ctx context.Context) (int, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("beginning a relay transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// One relay works at a time: two relays publishing neighbouring
	// batches at once could reorder a product's events.
	var ours bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, outboxRelayLockKey).Scan(&ours); err != nil || !ours {
		return 0, err
	}
	batch, err := readOutboxBatch(ctx, tx)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	offsets := make([]int64, len(batch))
	for i, e := range batch {
		e.msg.SetContext(ctx)
		if err := r.destination.Publisher.Publish(e.topic, e.msg); err != nil {
			return 0, fmt.Errorf("publishing event %s: %w", e.msg.UUID, err)
		}
		offsets[i] = e.offset
	}
	if r.destination.Flush != nil {
		flushCtx, cancel := context.WithTimeout(ctx, relayFlushTimeout)
		defer cancel()
		if err := r.destination.Flush(flushCtx); err != nil {
			return 0, fmt.Errorf("flushing a batch of %d events: %w", len(batch), err)
		}
	}
	// The rows read, not a range of offsets: a transaction that committed
	// after the read may hold a lower offset.
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE "offset" = ANY($1)`, pq.Array(offsets)); err != nil {
		return 0, fmt.Errorf("deleting relayed events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing relayed events: %w", err)
	}
	return len(batch), nil
}
