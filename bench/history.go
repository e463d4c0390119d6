package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The long history (issue 12): a command's cost must not grow with the
// product's history. Two products with the same batches (warehouse stock
// of a million units, then two shipments), one fresh and one whose
// warehouse batch already holds 50,000 order lines (-history-lines), the
// batch new orders go to. Then one client allocates 1 unit alternately on
// each (the pair's order swapped every time, so that neither always
// follows the other) for historyDuration, one request at a time, so
// nothing queues or conflicts: what is measured is one command's cost on
// each product, on the same service at the same moments. Reported: p50
// and p99 of each, and the long product's over the fresh one's.
//
// The lines are written straight into the database: through the HTTP API
// they would take minutes where allocation slows as lines accumulate, and
// this is about reading a long history, not about writing one. The batches are
// added through the API, so only the lines' table is assumed: the rows
// the store writes for an allocation (allocations: batch_ref, orderid,
// sku, qty), the batch's allocated_quantity where the schema keeps one
// (it must equal the sum of its lines), and the product's version moved
// on, as a command would, so that no process keeps a stale copy.

// HistoryResult compares allocation on a product with a long history to
// allocation on a fresh one.
type HistoryResult struct {
	Lines       int          `json:"lines"`
	SeedSeconds float64      `json:"seed_seconds"`
	Fresh       LatencyStats `json:"fresh"`
	Long        LatencyStats `json:"long"`
	// RatioP50 and RatioP99 are the long product's latency over the
	// fresh one's.
	RatioP50 float64 `json:"ratio_p50"`
	RatioP99 float64 `json:"ratio_p99"`
}

// LatencyStats are the timed allocations on one product.
type LatencyStats struct {
	Allocations int     `json:"allocations"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
}

// historyWarmup pairs are not timed: the first commands on a product (and
// on a new connection) pay for caches the others find warm.
const historyWarmup = 10

func measureHistory(ctx context.Context, o options, baseURL, databaseURL string) (*HistoryResult, error) {
	l := newLoad(o, baseURL)
	fresh, long := l.runID+"-HISTORY-FRESH", l.runID+"-HISTORY-LONG"
	products := [][]batchSpec{
		threeBatches(fresh, plentyQty, plentyQty, plentyQty),
		threeBatches(long, plentyQty, plentyQty, plentyQty),
	}
	if err := l.seed(ctx, products); err != nil {
		return nil, fmt.Errorf("adding the batches: %w", err)
	}
	res := &HistoryResult{Lines: o.historyLines}
	seedStart := time.Now()
	if err := seedLines(ctx, databaseURL, long, products[1][0].Ref, o.historyLines); err != nil {
		return nil, fmt.Errorf("seeding %d lines: %w", o.historyLines, err)
	}
	res.SeedSeconds = time.Since(seedStart).Seconds()

	send := newRawConn(strings.TrimPrefix(baseURL, "http://"))
	defer send.close()
	var (
		body    []byte
		respBuf bytes.Buffer
		stats   [2]workerStats
	)
	allocate := func(which int, sku, orderID string) {
		body = appendAllocateBody(body[:0], orderID, sku, 1)
		began := time.Now()
		status, err := send.post("/allocate", body, &respBuf)
		elapsed := time.Since(began)
		if err == nil && status != http.StatusCreated {
			// Stock is plenty: anything but 201 is an error here.
			err = fmt.Errorf("%d %s", status, bytes.TrimSpace(respBuf.Bytes()))
		}
		if err != nil {
			stats[which].fail(err.Error())
			return
		}
		stats[which].latencies = append(stats[which].latencies, elapsed)
	}
	deadline := time.Now().Add(historyDuration)
	for n := 0; ctx.Err() == nil && (n < historyWarmup || time.Now().Before(deadline)); n++ {
		if n == historyWarmup {
			stats = [2]workerStats{}
			deadline = time.Now().Add(historyDuration)
		}
		order := l.runID + "-history-" + strconv.Itoa(n)
		first := n % 2 // 0: the fresh product first, 1: the long one
		for k := range 2 {
			which := (first + k) % 2
			allocate(which, []string{fresh, long}[which], order+[]string{"-f", "-l"}[which])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Fresh, res.Long = latencyStats(&stats[0]), latencyStats(&stats[1])
	if res.Fresh.P50ms > 0 && res.Fresh.P99ms > 0 {
		res.RatioP50, res.RatioP99 = res.Long.P50ms/res.Fresh.P50ms, res.Long.P99ms/res.Fresh.P99ms
	}
	return res, nil
}

func latencyStats(s *workerStats) LatencyStats {
	out := LatencyStats{Allocations: len(s.latencies), Errors: s.errors, FirstError: s.firstError}
	out.P50ms, out.P99ms = percentilesMS(s.latencies)
	return out
}

// seedLines writes n allocated lines of 1 unit of sku into batch ref, in
// one transaction, as if n orders had been allocated.
func seedLines(ctx context.Context, databaseURL, sku, ref string, n int) (err error) {
	db, err := openDB(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO allocations (batch_ref, orderid, sku, qty)
		SELECT $1, $1 || '-old-' || g, $2, 1 FROM generate_series(1, $3::int) AS g`, ref, sku, n); err != nil {
		return err
	}
	var keepsTotal bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'batches' AND column_name = 'allocated_quantity')`).Scan(&keepsTotal); err != nil {
		return err
	}
	if keepsTotal {
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET allocated_quantity = allocated_quantity + $2 WHERE ref = $1`, ref, n); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE products SET version_number = version_number + 1 WHERE sku = $1`, sku)
	if err != nil {
		return err
	}
	if changed, err := res.RowsAffected(); err != nil || changed != 1 {
		return errors.Join(fmt.Errorf("product %s not found to seed", sku), err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// Statistics that know the lines, as autovacuum would have them in a
	// store that has been running.
	_, err = db.ExecContext(ctx, `ANALYZE batches, allocations`)
	return err
}

// logHistory reports the measurement.
func logHistory(stdout io.Writer, cfg runConfig, h *HistoryResult) {
	logf(stdout, "%s: long history: %d lines seeded in %.1f s; allocation p50 / p99: fresh product %.2f / %.2f ms (%d), with %d lines %.2f / %.2f ms (%d): %.2f× / %.2f×",
		cfg.Name(), h.Lines, h.SeedSeconds, h.Fresh.P50ms, h.Fresh.P99ms, h.Fresh.Allocations, h.Lines, h.Long.P50ms, h.Long.P99ms, h.Long.Allocations, h.RatioP50, h.RatioP99)
	for _, s := range []LatencyStats{h.Fresh, h.Long} {
		if s.Errors > 0 {
			logf(stdout, "%s: long history: %d errors, first: %s", cfg.Name(), s.Errors, s.FirstError)
		}
	}
}
