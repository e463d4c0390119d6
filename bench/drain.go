package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The event backlog. POST /allocate answers once the allocation and its
// Allocated event are committed; the event's consequences (the read
// model, line_allocated for other services) follow asynchronously. When
// they are handled more slowly than allocations are made, a backlog grows
// during the load, and the HTTP throughput is not sustainable as such.
// Right after the load a sentinel order is allocated; the time until its
// line_allocated comes out and the read model shows it (the two consumer
// groups of Allocated) is how far the event pipeline lagged behind.
// The wait is capped (drainTimeout).

// DrainResult is the event lag at the end of the load.
type DrainResult struct {
	// Seconds until the sentinel's line_allocated came out and the read
	// model showed it; the cap when either did not.
	Seconds float64 `json:"seconds"`
	Drained bool    `json:"drained"`
}

func (d *DrainResult) String() string {
	switch {
	case d == nil:
		return "n/a"
	case d.Drained && d.Seconds < 1:
		return fmt.Sprintf("%.0f ms", 1000*d.Seconds)
	case d.Drained:
		return fmt.Sprintf("%.1f s", d.Seconds)
	default:
		return fmt.Sprintf("> %.0f s", d.Seconds)
	}
}

func measureDrain(ctx context.Context, o options, cfg runConfig, baseURL, databaseURL, prefix string) (*DrainResult, error) {
	// The watcher is opened before the sentinel is sent, so that a
	// broker's subscriber cannot miss it.
	waitForLine, closeWatcher, err := openLineWatcher(ctx, o, cfg, databaseURL, prefix)
	if err != nil || waitForLine == nil {
		return nil, err
	}
	defer closeWatcher()
	l := newLoad(o, baseURL)
	start := time.Now()
	sku := "drain" + randomHex(3)
	if err := l.addBatch(ctx, batchSpec{Ref: sku + "-a", SKU: sku, Qty: 10}); err != nil {
		return nil, err
	}
	order := sku + "-order"
	ref, err := l.allocateCreated(ctx, order, sku, 1)
	if err != nil {
		return nil, err
	}
	deadline := start.Add(drainTimeout)
	lineAt, err := waitForLine(order, ref, deadline)
	if err != nil {
		return nil, err
	}
	if lineAt.IsZero() {
		return &DrainResult{Seconds: drainTimeout.Seconds()}, nil
	}
	// The read model is the other consumer group of Allocated, with a
	// backlog of its own: the load's events are handled when both caught up.
	viewAt, err := waitForReadModel(ctx, l, order, deadline)
	if err != nil {
		return nil, err
	}
	if viewAt.IsZero() {
		return &DrainResult{Seconds: drainTimeout.Seconds()}, nil
	}
	if viewAt.After(lineAt) {
		lineAt = viewAt
	}
	return &DrainResult{Seconds: lineAt.Sub(start).Seconds(), Drained: true}, nil
}

// openLineWatcher watches line_allocated as another service would: wait
// returns when an order's line came out, zero when the deadline passed
// first. Nil on the in-memory broker, which nothing outside the process can
// watch (gochannel also blocks publishers once a subscriber's buffer is
// full, so its backlog is bounded by the buffers).
func openLineWatcher(ctx context.Context, o options, cfg runConfig, databaseURL, prefix string) (wait func(order, ref string, deadline time.Time) (time.Time, error), closeWatcher func() error, err error) {
	switch cfg.Broker {
	case "redis", "nats":
		b, err := openBroker(ctx, o, cfg, "", prefix)
		if err != nil {
			return nil, nil, err
		}
		return func(order, ref string, deadline time.Time) (time.Time, error) {
			arrived, err := b.lines.wait(ctx, order, ref, time.Until(deadline))
			if errors.Is(err, errNoLine) {
				return time.Time{}, nil
			}
			return arrived, err
		}, b.close, nil
	case "sql":
		db, err := openDB(ctx, databaseURL)
		if err != nil {
			return nil, nil, err
		}
		return func(order, _ string, deadline time.Time) (time.Time, error) {
			return waitForSQLLine(ctx, db, order, deadline)
		}, db.Close, nil
	}
	return nil, nil, nil
}

// waitForReadModel polls GET /allocations/{order} until it answers 200 and
// returns when; zero when the deadline passed first.
func waitForReadModel(ctx context.Context, l *load, order string, deadline time.Time) (time.Time, error) {
	for {
		status, _, err := l.get(ctx, "/allocations/"+order)
		if err != nil {
			return time.Time{}, fmt.Errorf("reading the read model: %w", err)
		}
		at := time.Now()
		switch {
		case status == http.StatusOK:
			return at, nil
		case status != http.StatusNotFound:
			return time.Time{}, fmt.Errorf("GET /allocations/%s: status %d", order, status)
		case at.After(deadline):
			return time.Time{}, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitForSQLLine looks for the order's line_allocated in the topic's table
// on the database's side, since the load left many rows there; only rows
// newer than the last look are scanned (less a margin: offsets may commit
// out of order). Zero when the deadline passed first.
func waitForSQLLine(ctx context.Context, db *sql.DB, order string, deadline time.Time) (time.Time, error) {
	var seen int64
	for time.Now().Before(deadline) {
		var (
			newest sql.NullInt64
			found  sql.NullBool
		)
		err := db.QueryRowContext(ctx, `SELECT MAX("offset"), bool_or(payload->>'orderid' = $2)
			FROM "watermill_`+lineAllocatedTopic+`" WHERE "offset" > $1`, seen-1000, order).Scan(&newest, &found)
		if err != nil {
			return time.Time{}, fmt.Errorf("waiting for the load's events: %w", err)
		}
		if found.Bool {
			return time.Now(), nil
		}
		seen = max(seen, newest.Int64)
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Time{}, nil
}
