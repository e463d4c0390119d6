package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
	"allocation/cmd/allocation/service"
	"allocation/config"
	"allocation/contracts"
	"allocation/domain"
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
// format. SQL: a watermill-sql publisher and subscriber on the service's
// schema, polling like the service. Memory: gochannel cannot be reached
// from another process, so the same wiring (service.New) runs in this
// process and the round trip uses its pub/sub.
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
	var p contracts.LineAllocatedPayload
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
		method = "watermill-sql publish -> subscribe"
		client, err = newSQLRoundTrip(ctx, o, baseURL, databaseURL)
	case "memory":
		method = "in-process gochannel (service.New)"
		client, err = newMemoryRoundTrip(ctx)
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
		in:       prefix + contracts.ChangeBatchQuantityTopic,
		out:      prefix + contracts.LineAllocatedTopic,
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
				if payload, ok := m.Values[pubsub.RedisPayloadField].(string); ok {
					r.waiter.add([]byte(payload), at)
				}
			}
		}
	}
}

func (r *redisRoundTrip) publishChange(ctx context.Context, ref string, qty int) error {
	payload := fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty)
	return r.rdb.XAdd(ctx, &redis.XAddArgs{Stream: r.in, Values: []any{pubsub.RedisPayloadField, payload}}).Err()
}

func (r *redisRoundTrip) lines() *lineWaiter { return r.waiter }

func (r *redisRoundTrip) close() error {
	r.cancel()
	<-r.done
	return errors.Join(r.rdb.Close(), r.reader.Close())
}

// --- SQL ---------------------------------------------------------------

type sqlRoundTrip struct {
	httpSide
	db     *sql.DB
	ps     *pubsub.SQLPubSub
	waiter *lineWaiter
	cancel context.CancelFunc
	done   chan struct{}
}

const roundTripGroup = "bench.roundtrip"

func newSQLRoundTrip(ctx context.Context, o options, baseURL, databaseURL string) (*sqlRoundTrip, error) {
	db, err := postgres.Open(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	// The subscriber polls like the service: its SQL_POLL_INTERVAL.
	env := map[string]string{"SQL_POLL_INTERVAL": o.sqlPollInterval}
	defaults, err := config.Load("allocation-bench", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	pollInterval := defaults.SQLPollInterval
	ps, err := pubsub.NewSQLPubSub(db, pubsub.SQLConfig{PollInterval: pollInterval}, watermill.NopLogger{})
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	r := &sqlRoundTrip{httpSide: httpSide{newLoad(o, baseURL)}, db: db, ps: ps, waiter: newLineWaiter(), done: make(chan struct{})}
	if err := r.start(ctx); err != nil {
		return nil, errors.Join(err, r.close())
	}
	return r, nil
}

// start subscribes from the end of line_allocated: earlier messages are
// not ours (and reading them one transaction each would take long).
func (r *sqlRoundTrip) start(ctx context.Context) error {
	topic := contracts.LineAllocatedTopic
	if err := pubsub.InitializeSQLTopic(ctx, r.db, topic); err != nil {
		return err
	}
	// The group starts after the newest message (what the library's own
	// ack would write).
	_, err := r.db.ExecContext(ctx, `INSERT INTO "watermill_offsets_`+topic+`" (consumer_group, offset_acked, last_processed_transaction_id)
		SELECT $1, "offset", transaction_id FROM "watermill_`+topic+`" ORDER BY transaction_id DESC, "offset" DESC LIMIT 1
		ON CONFLICT (consumer_group) DO NOTHING`, roundTripGroup)
	if err != nil {
		return fmt.Errorf("positioning the subscriber: %w", err)
	}
	sub, err := r.ps.Subscriber(roundTripGroup)
	if err != nil {
		return err
	}
	subCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	messages, err := sub.Subscribe(subCtx, topic)
	if err != nil {
		return err
	}
	go func() {
		defer close(r.done)
		for m := range messages {
			r.waiter.add(m.Payload, time.Now())
			m.Ack()
		}
	}()
	return nil
}

func (r *sqlRoundTrip) publishChange(_ context.Context, ref string, qty int) error {
	msg := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty)))
	return r.ps.Publisher().Publish(contracts.ChangeBatchQuantityTopic, msg)
}

func (r *sqlRoundTrip) lines() *lineWaiter { return r.waiter }

func (r *sqlRoundTrip) close() error {
	var err error
	if r.cancel != nil {
		r.cancel()
		err = r.ps.Close()
		<-r.done
	} else {
		err = r.ps.Close()
	}
	return errors.Join(err, r.db.Close())
}

// --- memory (in-process) -------------------------------------------------

type memoryRoundTrip struct {
	svc    *service.Service
	waiter *lineWaiter
	cancel context.CancelFunc
	done   chan struct{}
}

func newMemoryRoundTrip(ctx context.Context) (*memoryRoundTrip, error) {
	gin.SetMode(gin.ReleaseMode)
	env := map[string]string{"STORE": "memory", "BROKER": "memory", "LOG_LEVEL": "warn", "HTTP_ADDR": "127.0.0.1:0"}
	cfg, err := config.Load("allocation-bench", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		return nil, err
	}
	svc, err := service.New(cfg, slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, errors.Join(err, svc.Stop())
	}
	r := &memoryRoundTrip{svc: svc, waiter: newLineWaiter(), done: make(chan struct{})}
	sub, err := svc.PubSub.Subscriber(roundTripGroup)
	if err != nil {
		return nil, errors.Join(err, svc.Stop())
	}
	subCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	messages, err := sub.Subscribe(subCtx, contracts.LineAllocatedTopic)
	if err != nil {
		cancel()
		return nil, errors.Join(err, svc.Stop())
	}
	go func() {
		defer close(r.done)
		for m := range messages {
			r.waiter.add(m.Payload, time.Now())
			m.Ack()
		}
	}()
	return r, nil
}

func (r *memoryRoundTrip) addBatch(ctx context.Context, b batchSpec) error {
	cmd := &domain.CreateBatch{Ref: b.Ref, SKU: b.SKU, Qty: b.Qty}
	if b.ETA != nil {
		eta, err := time.Parse(time.DateOnly, *b.ETA)
		if err != nil {
			return err
		}
		cmd.ETA = &eta
	}
	return r.svc.App.AddBatch.Handle(ctx, cmd)
}

func (r *memoryRoundTrip) allocate(ctx context.Context, orderID, sku string, qty int) (string, error) {
	return r.svc.App.Allocate.Handle(ctx, &domain.Allocate{OrderID: orderID, SKU: sku, Qty: qty})
}

func (r *memoryRoundTrip) publishChange(_ context.Context, ref string, qty int) error {
	msg := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty)))
	return r.svc.PubSub.Publisher().Publish(contracts.ChangeBatchQuantityTopic, msg)
}

func (r *memoryRoundTrip) lines() *lineWaiter { return r.waiter }

func (r *memoryRoundTrip) close() error {
	r.cancel()
	err := r.svc.Stop()
	<-r.done
	return err
}
