package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"
)

// The external event round trip, per event i, on a sku of its own with a
// warehouse batch A and a shipment B, 10 units each:
//
//  1. allocate order o_i (2 units) over HTTP: it goes to A; wait until its
//     line_allocated (o_i on A) has come out, so that nothing is in flight;
//  2. start the clock and publish change_batch_quantity {A, 1} on the
//     broker, as another service would;
//  3. stop the clock when line_allocated for o_i on B arrives: the service
//     consumed the message, shrank A (deallocating o_i), handled
//     Deallocated (re-allocation through the command bus), allocated o_i
//     to B, and published line_allocated from the Allocated event.
//
// Redis: XADD and XREAD BLOCK on the prefixed streams, the plain entry
// format. SQL: rows in the topic tables of the service's schema, polled
// like the service polls. Memory: gochannel cannot be reached from another
// process, so there is none here (the root module's in-memory bus
// benchmark times it).
type roundTripClient interface {
	addBatch(ctx context.Context, b batchSpec) error
	allocate(ctx context.Context, orderID, sku string, qty int) (string, error)
	publishChange(ctx context.Context, ref string, qty int) error
	lines() *lineWaiter
	close() error
}

// lineWaiter records when each (order, batch) line_allocated arrived.
type lineWaiter struct {
	mu      sync.Mutex
	arrived map[string]time.Time
	notify  chan struct{}
	err     error
}

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
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *lineWaiter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// wait returns when the line arrived.
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
			return time.Time{}, fmt.Errorf("no line_allocated for order %s on batch %s within %s", orderID, batchRef, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func measureRoundTrip(ctx context.Context, o options, cfg runConfig, baseURL, databaseURL, prefix string) (*RoundTripResult, error) {
	if o.rtEvents <= 0 {
		return nil, nil
	}
	var (
		client roundTripClient
		method string
		err    error
	)
	switch cfg.Broker {
	case "redis":
		method = "Redis XADD -> XREAD"
		client, err = newRedisRoundTrip(ctx, o, baseURL, prefix)
	case "sql":
		method = "SQL topic table insert -> poll"
		client, err = newSQLRoundTrip(ctx, o, baseURL, databaseURL)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer client.close()

	// Set-up, not timed: every event's sku, batches and first allocation,
	// and the line_allocated of each first allocation.
	run := "rt" + randomHex(3)
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	n := o.rtWarmup + o.rtEvents
	type event struct{ order, a, b string }
	events := make([]event, n)
	for i := range events {
		sku := fmt.Sprintf("%s-SKU-%04d", run, i)
		e := event{order: fmt.Sprintf("%s-order-%04d", run, i), a: sku + "-a", b: sku + "-b"}
		events[i] = e
		if err := client.addBatch(ctx, batchSpec{Ref: e.a, SKU: sku, Qty: 10}); err != nil {
			return nil, err
		}
		if err := client.addBatch(ctx, batchSpec{Ref: e.b, SKU: sku, Qty: 10, ETA: &tomorrow}); err != nil {
			return nil, err
		}
		ref, err := client.allocate(ctx, e.order, sku, 2)
		if err != nil {
			return nil, err
		}
		if ref != e.a {
			return nil, fmt.Errorf("order %s went to %s, want %s", e.order, ref, e.a)
		}
	}
	for _, e := range events {
		if _, err := client.lines().wait(ctx, e.order, e.a, o.rtTimeout); err != nil {
			return nil, err
		}
	}
	// One event at a time: the clock runs from publishing
	// change_batch_quantity to the arrival of the re-allocation.
	var latencies []time.Duration
	for i, e := range events {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sent := time.Now()
		if err := client.publishChange(ctx, e.a, 1); err != nil {
			return nil, err
		}
		arrived, err := client.lines().wait(ctx, e.order, e.b, o.rtTimeout)
		if err != nil {
			return nil, err
		}
		if i >= o.rtWarmup {
			latencies = append(latencies, arrived.Sub(sent))
		}
	}
	slices.Sort(latencies)
	return &RoundTripResult{
		Method: method,
		Events: len(latencies),
		P50ms:  ms(percentile(latencies, 0.50)),
		P90ms:  ms(percentile(latencies, 0.90)),
		P99ms:  ms(percentile(latencies, 0.99)),
		MaxMS:  ms(latencies[len(latencies)-1]),
	}, nil
}

// httpSide allocates and adds batches over the service's HTTP API.
type httpSide struct{ l *load }

func (h httpSide) addBatch(ctx context.Context, b batchSpec) error { return h.l.addBatch(ctx, b) }

func (h httpSide) allocate(ctx context.Context, orderID, sku string, qty int) (string, error) {
	status, ref, err := h.l.allocate(ctx, orderID, sku, qty)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("POST /allocate %s: status %d", orderID, status)
	}
	return ref, nil
}

// --- Redis -------------------------------------------------------------

type redisRoundTrip struct {
	httpSide
	rdb     *redis.Client
	reader  *redis.Client
	in, out string
	waiter  *lineWaiter
	cancel  context.CancelFunc
	done    chan struct{}
}

func newRedisRoundTrip(ctx context.Context, o options, baseURL, prefix string) (*redisRoundTrip, error) {
	r := &redisRoundTrip{
		httpSide: httpSide{newLoad(o, baseURL)},
		rdb:      redis.NewClient(&redis.Options{Addr: o.redisAddr}),
		reader:   redis.NewClient(&redis.Options{Addr: o.redisAddr}),
		in:       prefix + changeBatchQuantityTopic,
		out:      prefix + lineAllocatedTopic,
		waiter:   newLineWaiter(),
		done:     make(chan struct{}),
	}
	// Read from the current end: earlier entries are not ours.
	last := "0-0"
	entries, err := r.rdb.XRevRangeN(ctx, r.out, "+", "-", 1).Result()
	if err != nil {
		return nil, errors.Join(err, r.rdb.Close(), r.reader.Close())
	}
	if len(entries) > 0 {
		last = entries[0].ID
	}
	readCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.read(readCtx, last)
	return r, nil
}

func (r *redisRoundTrip) read(ctx context.Context, last string) {
	defer close(r.done)
	for ctx.Err() == nil {
		streams, err := r.reader.XRead(ctx, &redis.XReadArgs{Streams: []string{r.out, last}, Count: 1000, Block: time.Second}).Result()
		at := time.Now()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				r.waiter.fail(fmt.Errorf("XREAD %s: %w", r.out, err))
			}
			return
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if payload, ok := m.Values[redisPayloadField].(string); ok {
					r.waiter.add([]byte(payload), at)
				}
			}
		}
	}
}

func (r *redisRoundTrip) publishChange(ctx context.Context, ref string, qty int) error {
	payload := fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty)
	return r.rdb.XAdd(ctx, &redis.XAddArgs{Stream: r.in, Values: []any{redisPayloadField, payload}}).Err()
}

func (r *redisRoundTrip) lines() *lineWaiter { return r.waiter }

func (r *redisRoundTrip) close() error {
	r.cancel()
	<-r.done
	return errors.Join(r.rdb.Close(), r.reader.Close())
}

// --- SQL ---------------------------------------------------------------

// sqlRoundTrip publishes by inserting a row into the topic's table, as
// watermill-sql's publisher does, and reads line_allocated by polling its
// table like a watermill-sql subscriber: at once again after finding rows,
// after the poll interval after finding none.
type sqlRoundTrip struct {
	httpSide
	db     *sql.DB
	waiter *lineWaiter
	cancel context.CancelFunc
	done   chan struct{}
}

// defaultSQLPollInterval is the service's SQL_POLL_INTERVAL default.
const defaultSQLPollInterval = 20 * time.Millisecond

func newSQLRoundTrip(ctx context.Context, o options, baseURL, databaseURL string) (*sqlRoundTrip, error) {
	poll := defaultSQLPollInterval
	if o.sqlPollInterval != "" {
		var err error
		if poll, err = time.ParseDuration(o.sqlPollInterval); err != nil {
			return nil, fmt.Errorf("-sql-poll-interval: %w", err)
		}
	}
	db, err := openDB(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	r := &sqlRoundTrip{httpSide: httpSide{newLoad(o, baseURL)}, db: db, waiter: newLineWaiter(), done: make(chan struct{})}
	readCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.read(readCtx, poll)
	return r, nil
}

func (r *sqlRoundTrip) read(ctx context.Context, poll time.Duration) {
	defer close(r.done)
	var seen int64
	for ctx.Err() == nil {
		newest, found, err := readLineAllocated(ctx, r.db, seen, r.waiter)
		if err != nil {
			if ctx.Err() == nil {
				r.waiter.fail(err)
			}
			return
		}
		seen = max(seen, newest)
		if !found {
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
		}
	}
}

// readLineAllocated hands the line_allocated rows after offset seen (less
// a margin: offsets may commit out of order; the waiter ignores repeats)
// to the waiter and returns the newest offset, and whether there was a row
// not seen before. A table not created yet has no rows.
func readLineAllocated(ctx context.Context, db *sql.DB, seen int64, waiter *lineWaiter) (newest int64, found bool, err error) {
	rows, err := db.QueryContext(ctx, `SELECT "offset", payload FROM "watermill_`+lineAllocatedTopic+`" WHERE "offset" > $1 ORDER BY "offset"`, seen-1000)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P01" {
		return seen, false, nil
	}
	if err != nil {
		return seen, false, fmt.Errorf("reading %s: %w", lineAllocatedTopic, err)
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
			return seen, false, err
		}
		found = found || offset > seen
		newest = max(newest, offset)
		waiter.add(payload, at)
	}
	return newest, found, rows.Err()
}

func (r *sqlRoundTrip) publishChange(ctx context.Context, ref string, qty int) error {
	_, err := r.db.ExecContext(ctx, fmt.Sprintf(outboxInsertFmt, changeBatchQuantityTopic),
		uuid.NewString(), fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty), "{}")
	return err
}

func (r *sqlRoundTrip) lines() *lineWaiter { return r.waiter }

func (r *sqlRoundTrip) close() error {
	r.cancel()
	<-r.done
	return r.db.Close()
}
