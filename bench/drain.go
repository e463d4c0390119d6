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
	l := newLoad(o, baseURL)
	var (
		start time.Time
		order string
	)
	sentinel := func() (string, string, error) {
		start = time.Now()
		sku := "drain" + randomHex(3)
		if err := l.addBatch(ctx, batchSpec{Ref: sku + "-a", SKU: sku, Qty: 10}); err != nil {
			return "", "", err
		}
		order = sku + "-order"
		ref, err := l.allocateCreated(ctx, order, sku, 1)
		return order, ref, err
	}
	var (
		res *DrainResult
		err error
	)
	switch cfg.Broker {
	case "redis", "nats":
		res, err = drainThroughBroker(ctx, o, cfg, prefix, sentinel)
	case "sql":
		res, err = drainSQL(ctx, databaseURL, sentinel)
	default:
		// gochannel blocks publishers once a subscriber's buffer is full:
		// the backlog is bounded by the buffers, and nothing outside the
		// process can watch line_allocated.
		return nil, nil
	}
	if err != nil || !res.Drained {
		return res, err
	}
	// The read model is the other consumer group of Allocated, with a
	// backlog of its own: the load's events are handled when both caught up.
	deadline := start.Add(drainTimeout)
	viewAt, err := waitForReadModel(ctx, l, order, deadline)
	if err != nil {
		return nil, err
	}
	if viewAt.IsZero() {
		return &DrainResult{Seconds: drainTimeout.Seconds()}, nil
	}
	if s := viewAt.Sub(start).Seconds(); s > res.Seconds {
		res.Seconds = s
	}
	return res, nil
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

// drainThroughBroker waits for the sentinel's line_allocated as another
// service reads it from the broker.
func drainThroughBroker(ctx context.Context, o options, cfg runConfig, prefix string, sentinel func() (string, string, error)) (*DrainResult, error) {
	b, err := openBroker(ctx, o, cfg, "", prefix)
	if err != nil {
		return nil, err
	}
	defer b.close()
	start := time.Now()
	order, ref, err := sentinel()
	if err != nil {
		return nil, err
	}
	arrived, err := b.lines.wait(ctx, order, ref, drainTimeout-time.Since(start))
	switch {
	case errors.Is(err, errNoLine):
		return &DrainResult{Seconds: drainTimeout.Seconds()}, nil
	case err != nil:
		return nil, err
	}
	return &DrainResult{Seconds: arrived.Sub(start).Seconds(), Drained: true}, nil
}

// drainSQL looks for the sentinel's line_allocated in the topic's table
// on the database's side, since the load left many rows there; only rows
// newer than the last look are scanned (less a margin: offsets may commit
// out of order).
func drainSQL(ctx context.Context, databaseURL string, sentinel func() (string, string, error)) (*DrainResult, error) {
	db, err := openDB(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	start := time.Now()
	order, _, err := sentinel()
	if err != nil {
		return nil, err
	}
	var seen int64
	for time.Since(start) < drainTimeout {
		var (
			newest sql.NullInt64
			found  sql.NullBool
		)
		err := db.QueryRowContext(ctx, `SELECT MAX("offset"), bool_or(payload->>'orderid' = $2)
			FROM "watermill_`+lineAllocatedTopic+`" WHERE "offset" > $1`, seen-1000, order).Scan(&newest, &found)
		if err != nil {
			return nil, fmt.Errorf("waiting for the load's events: %w", err)
		}
		if found.Bool {
			return &DrainResult{Seconds: time.Since(start).Seconds(), Drained: true}, nil
		}
		seen = max(seen, newest.Int64)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return &DrainResult{Seconds: drainTimeout.Seconds()}, nil
}
