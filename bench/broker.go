package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// broker reaches the service's broker from outside, as another service
// would: it publishes change_batch_quantity and reads line_allocated, from
// the end of the stream or table at the time it was opened, into lines.
// Redis: XADD and XREAD BLOCK on the prefixed streams, the plain entry
// format. SQL: rows in the topic tables of the service's schema, inserted
// as watermill-sql's publisher writes them and polled as its subscriber
// polls (again at once after finding rows, after the poll interval after
// finding none). NATS: a JetStream publish of the JSON body, and a plain
// subscription to the prefixed subject (what "nats sub" does). The
// in-memory broker cannot be reached from another process.
type broker struct {
	lines   *lineWaiter
	publish func(ctx context.Context, payload string) error
	cancel  context.CancelFunc
	done    chan struct{}
	closers []func() error
}

// defaultSQLPollInterval is the service's SQL_POLL_INTERVAL default.
const defaultSQLPollInterval = 20 * time.Millisecond

// openBroker returns nil for the in-memory broker.
func openBroker(ctx context.Context, o options, cfg runConfig, databaseURL, prefix string) (*broker, error) {
	b := &broker{lines: newLineWaiter(), done: make(chan struct{})}
	readCtx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	switch cfg.Broker {
	case "redis":
		rdb, reader := redis.NewClient(&redis.Options{Addr: o.redisAddr}), redis.NewClient(&redis.Options{Addr: o.redisAddr})
		b.closers = []func() error{rdb.Close, reader.Close}
		in, out := prefix+changeBatchQuantityTopic, prefix+lineAllocatedTopic
		b.publish = func(ctx context.Context, payload string) error {
			return rdb.XAdd(ctx, &redis.XAddArgs{Stream: in, Values: []any{redisPayloadField, payload}}).Err()
		}
		last := "0-0"
		entries, err := rdb.XRevRangeN(ctx, out, "+", "-", 1).Result()
		if err != nil {
			cancel()
			return nil, errors.Join(err, b.closeClients())
		}
		if len(entries) > 0 {
			last = entries[0].ID
		}
		go b.readRedis(readCtx, reader, out, last)
	case "nats":
		conn, err := nats.Connect(o.natsURL)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("NATS at %s: %w", o.natsURL, err)
		}
		b.closers = []func() error{func() error { conn.Close(); return nil }}
		js, err := conn.JetStream()
		if err != nil {
			cancel()
			return nil, errors.Join(err, b.closeClients())
		}
		in := prefix + changeBatchQuantityTopic
		b.publish = func(ctx context.Context, payload string) error {
			_, err := js.Publish(in, []byte(payload), nats.Context(ctx))
			return err
		}
		if err := b.subscribeNATS(readCtx, conn, prefix+lineAllocatedTopic); err != nil {
			cancel()
			return nil, errors.Join(err, b.closeClients())
		}
	case "sql":
		poll := defaultSQLPollInterval
		if o.sqlPollInterval != "" {
			var err error
			if poll, err = time.ParseDuration(o.sqlPollInterval); err != nil {
				cancel()
				return nil, fmt.Errorf("-sql-poll-interval: %w", err)
			}
		}
		db, err := openDB(ctx, databaseURL)
		if err != nil {
			cancel()
			return nil, err
		}
		b.closers = []func() error{db.Close}
		b.publish = func(ctx context.Context, payload string) error {
			_, err := db.ExecContext(ctx, fmt.Sprintf(outboxInsertFmt, changeBatchQuantityTopic), uuid.NewString(), payload, "{}")
			return err
		}
		var newest int64
		err = db.QueryRowContext(ctx, `SELECT coalesce(max("offset"), 0) FROM "watermill_`+lineAllocatedTopic+`"`).Scan(&newest)
		if err != nil && !isUndefinedTable(err) {
			cancel()
			return nil, errors.Join(err, b.closeClients())
		}
		go b.pollSQL(readCtx, db, newest, poll)
	default:
		cancel()
		return nil, nil
	}
	return b, nil
}

func (b *broker) publishChange(ctx context.Context, ref string, qty int) error {
	return b.publish(ctx, fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty))
}

func (b *broker) readRedis(ctx context.Context, reader *redis.Client, stream, last string) {
	defer close(b.done)
	for ctx.Err() == nil {
		streams, err := reader.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, last}, Count: 10000, Block: 200 * time.Millisecond}).Result()
		at := time.Now()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				b.lines.fail(fmt.Errorf("XREAD %s: %w", stream, err))
			}
			return
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if payload, ok := m.Values[redisPayloadField].(string); ok {
					b.lines.add([]byte(payload), at)
				}
			}
		}
	}
}

// subscribeNATS hands what is published to subject from now on to the
// waiter until ctx ends; the load's backlog may be long, so the
// subscription holds any number of messages rather than drop some.
func (b *broker) subscribeNATS(ctx context.Context, conn *nats.Conn, subject string) error {
	sub, err := conn.Subscribe(subject, func(m *nats.Msg) { b.lines.add(m.Data, time.Now()) })
	if err == nil {
		err = sub.SetPendingLimits(-1, -1)
	}
	if err == nil {
		err = conn.Flush()
	}
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", subject, err)
	}
	go func() {
		defer close(b.done)
		<-ctx.Done()
		_ = sub.Unsubscribe()
	}()
	return nil
}

func (b *broker) pollSQL(ctx context.Context, db *sql.DB, seen int64, poll time.Duration) {
	defer close(b.done)
	for ctx.Err() == nil {
		newest, err := b.readSQL(ctx, db, seen)
		if err != nil {
			if ctx.Err() == nil {
				b.lines.fail(err)
			}
			return
		}
		if newest == seen {
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
		}
		seen = newest
	}
}

// readSQL hands the line_allocated rows after offset seen to the waiter
// and returns the newest offset. The last hundred rows are read again,
// since offsets may commit out of order (the waiter ignores repeats); a
// table not created yet has no rows.
func (b *broker) readSQL(ctx context.Context, db *sql.DB, seen int64) (newest int64, err error) {
	rows, err := db.QueryContext(ctx, `SELECT "offset", payload FROM "watermill_`+lineAllocatedTopic+`" WHERE "offset" > $1 ORDER BY "offset"`, seen-100)
	if isUndefinedTable(err) {
		return seen, nil
	}
	if err != nil {
		return seen, fmt.Errorf("reading %s: %w", lineAllocatedTopic, err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	at := time.Now()
	newest = seen
	for rows.Next() {
		var (
			offset  int64
			payload []byte
		)
		if err := rows.Scan(&offset, &payload); err != nil {
			return seen, err
		}
		newest = max(newest, offset)
		b.lines.add(payload, at)
	}
	return newest, rows.Err()
}

func isUndefinedTable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "42P01"
}

func (b *broker) close() error {
	b.cancel()
	<-b.done
	return b.closeClients()
}

func (b *broker) closeClients() error {
	var err error
	for _, c := range b.closers {
		err = errors.Join(err, c())
	}
	return err
}

// lineWaiter records when each (order, batch) line_allocated arrived.
type lineWaiter struct {
	mu      sync.Mutex
	arrived map[string]time.Time
	notify  chan struct{}
	err     error
}

// errNoLine is a wait for a line_allocated that timed out.
var errNoLine = errors.New("no line_allocated")

func newLineWaiter() *lineWaiter {
	return &lineWaiter{arrived: map[string]time.Time{}, notify: make(chan struct{}, 1)}
}

func lineKey(orderID, batchRef string) string { return orderID + "\x00" + batchRef }

func (w *lineWaiter) add(payload []byte, at time.Time) {
	var p lineAllocated
	if json.Unmarshal(payload, &p) != nil {
		return
	}
	w.mu.Lock()
	if _, seen := w.arrived[lineKey(p.OrderID, p.BatchRef)]; !seen {
		w.arrived[lineKey(p.OrderID, p.BatchRef)] = at
	}
	w.mu.Unlock()
	w.wake()
}

func (w *lineWaiter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.wake()
}

func (w *lineWaiter) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// wait returns when the line arrived, or errNoLine after timeout.
func (w *lineWaiter) wait(ctx context.Context, orderID, batchRef string, timeout time.Duration) (time.Time, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		at, ok := w.arrived[lineKey(orderID, batchRef)]
		err := w.err
		w.mu.Unlock()
		switch {
		case ok:
			return at, nil
		case err != nil:
			return time.Time{}, err
		}
		select {
		case <-w.notify:
		case <-timer.C:
			return time.Time{}, fmt.Errorf("%w for order %s on batch %s within %s", errNoLine, orderID, batchRef, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}
