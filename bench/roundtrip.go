package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
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
// There is none on the in-memory broker (see broker); the root module's
// in-memory bus benchmark times that path.
func measureRoundTrip(ctx context.Context, o options, cfg runConfig, baseURL, databaseURL, prefix string) (*RoundTripResult, error) {
	method := map[string]string{"redis": "Redis XADD -> XREAD", "sql": "SQL topic table insert -> poll", "nats": "JetStream publish -> NATS subscription"}[cfg.Broker]
	if o.rtEvents <= 0 || method == "" {
		return nil, nil
	}
	b, err := openBroker(ctx, o, cfg, databaseURL, prefix)
	if err != nil {
		return nil, err
	}
	defer b.close()
	l := newLoad(o, baseURL)

	// Set-up, not timed: every event's sku, batches and first allocation,
	// and the line_allocated of each first allocation.
	run := "rt" + randomHex(3)
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	type event struct{ order, a, b string }
	events := make([]event, rtWarmup+o.rtEvents)
	for i := range events {
		sku := fmt.Sprintf("%s-SKU-%04d", run, i)
		e := event{order: fmt.Sprintf("%s-order-%04d", run, i), a: sku + "-a", b: sku + "-b"}
		events[i] = e
		if err := l.seed(ctx, [][]batchSpec{{{Ref: e.a, SKU: sku, Qty: 10}, {Ref: e.b, SKU: sku, Qty: 10, ETA: &tomorrow}}}); err != nil {
			return nil, err
		}
		if ref, err := l.allocateCreated(ctx, e.order, sku, 2); err != nil || ref != e.a {
			return nil, fmt.Errorf("order %s went to %q, want %s: %v", e.order, ref, e.a, err)
		}
	}
	for _, e := range events {
		if _, err := b.lines.wait(ctx, e.order, e.a, rtTimeout); err != nil {
			return nil, err
		}
	}
	// One event at a time: the clock runs from publishing
	// change_batch_quantity to the arrival of the re-allocation.
	var latencies []time.Duration
	for i, e := range events {
		sent := time.Now()
		if err := b.publishChange(ctx, e.a, 1); err != nil {
			return nil, err
		}
		arrived, err := b.lines.wait(ctx, e.order, e.b, rtTimeout)
		if err != nil {
			return nil, err
		}
		if i >= rtWarmup {
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

// allocateCreated posts one order line that must be allocated and returns
// its batch.
func (l *load) allocateCreated(ctx context.Context, orderID, sku string, qty int) (string, error) {
	status, ref, err := l.allocate(ctx, orderID, sku, qty)
	if err == nil && status != http.StatusCreated {
		err = fmt.Errorf("POST /allocate %s: status %d", orderID, status)
	}
	return ref, err
}
