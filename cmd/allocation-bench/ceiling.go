package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

// The ceiling: what PostgreSQL alone allows for the database work of one
// allocation, issued through database/sql (lib/pq, opened as the service
// opens it) by the same number of workers on the same request mix, with
// no HTTP, no Watermill and no domain objects in between. Each operation:
//
//	BEGIN
//	SELECT the product with its batches and allocations (the store's query)
//	-- allocated:
//	UPDATE products SET version_number = version_number + 1 WHERE sku = $1 AND version_number = $2
//	INSERT INTO allocations ...
//	INSERT INTO "watermill_<topic>" ... -- the outbox row, as watermill-sql writes it
//	-- out of stock (the product is unchanged):
//	SELECT 1 FROM products WHERE sku = $1 AND version_number = $2
//	INSERT INTO "watermill_<topic>" ...
//	COMMIT
//
// An UPDATE that matches no row (another worker moved the version) is a
// conflict: rolled back and retried after a short jittered pause, as the
// service's transaction runner does.
const (
	ceilingSelect = `
SELECT p.sku, p.version_number, b.ref, b.purchased_quantity, b.eta, a.orderid, a.sku, a.qty
FROM products p
LEFT JOIN batches b ON b.sku = p.sku
LEFT JOIN allocations a ON a.batch_ref = b.ref
WHERE p.sku = $1 ORDER BY b.id, a.id`
	ceilingBump     = `UPDATE products SET version_number = version_number + 1 WHERE sku = $1 AND version_number = $2`
	ceilingInsert   = `INSERT INTO allocations (batch_ref, orderid, sku, qty) VALUES ($1, $2, $3, $4)`
	ceilingCheck    = `SELECT 1 FROM products WHERE sku = $1 AND version_number = $2`
	outboxInsertFmt = `INSERT INTO "watermill_%s" (uuid, payload, metadata, transaction_id) VALUES ($1, $2, $3, pg_current_xact_id())`
)

type ceiling struct {
	o  options
	db *sql.DB
	// forwarder: events go to the forwarder's outbox topic in an
	// envelope (BROKER=redis); otherwise to the event's own topic table.
	forwarder bool
	insertFor map[string]string
	runID     string
}

// measureCeiling measures rounds ceiling rounds, numbered from first, after
// a warm-up, on a fresh schema.
func measureCeiling(ctx context.Context, o options, cfg runConfig, stdout io.Writer, first, rounds int) (res *CeilingResult, err error) {
	schema, cleanup, err := createSchema(ctx, o.databaseURL)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, cleanup()) }()
	db, err := postgres.Open(ctx, postgres.WithSearchPath(o.databaseURL, schema))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if err := postgres.Migrate(ctx, db); err != nil {
		return nil, err
	}
	c := &ceiling{o: o, db: db, forwarder: cfg.Broker != "sql", insertFor: map[string]string{}, runID: "c" + randomHex(3)}
	topics := postgres.EventTopics()
	if c.forwarder {
		topics = []string{postgres.OutboxTopic}
	}
	if err := postgres.InitializeSQLTopics(ctx, db, topics); err != nil {
		return nil, err
	}
	for _, name := range []string{"Allocated", "OutOfStock"} {
		topic := app.EventTopic(name)
		if c.forwarder {
			topic = postgres.OutboxTopic
		}
		c.insertFor[name] = fmt.Sprintf(outboxInsertFmt, topic)
	}

	if o.warmup > 0 {
		phase := newPhase(o, c.runID, "warm")
		if err := c.seed(ctx, phase); err != nil {
			return nil, err
		}
		r, err := c.runPhase(ctx, phase, o.warmup)
		if err != nil {
			return nil, err
		}
		logf(stdout, "%s: ceiling warm-up %.0f tx/s, p50 %.2f ms, p99 %.2f ms", cfg.Name(), r.Throughput, r.P50ms, r.P99ms)
	}
	res = &CeilingResult{}
	for i := first; i < first+rounds; i++ {
		phase := newPhase(o, c.runID, fmt.Sprintf("r%d", i))
		if err := c.seed(ctx, phase); err != nil {
			return nil, err
		}
		before := sampleCPU(0)
		r, err := c.runPhase(ctx, phase, o.ceilingRound)
		if err != nil {
			return nil, err
		}
		r.CPU = cpuShare(before, sampleCPU(0), r.Created+r.OutOfStock)
		r.Round = i
		res.Rounds = append(res.Rounds, r)
		logf(stdout, "%s: ceiling round %d: %.0f tx/s, p50 %.2f ms, p99 %.2f ms, %d allocated, %d out of stock, %d conflicts retried; CPU (cores): load generator %.2f, postgres %.2f (%.0f µs/tx)",
			cfg.Name(), i, r.Throughput, r.P50ms, r.P99ms, r.Created, r.OutOfStock, r.Conflicts, r.CPU.Bench, r.CPU.Postgres, r.CPU.PostgresMicros)
	}
	res.Summary = summarize(res.Rounds)
	return res, nil
}

// seed writes the phase's products and batches in one transaction.
func (c *ceiling) seed(ctx context.Context, phase phaseSKUs) error {
	var skus, refs, bskus, etas []string
	var qtys []int64
	for _, batches := range phase.batches() {
		skus = append(skus, batches[0].SKU)
		for _, b := range batches {
			refs = append(refs, b.Ref)
			bskus = append(bskus, b.SKU)
			qtys = append(qtys, int64(b.Qty))
			eta := ""
			if b.ETA != nil {
				eta = *b.ETA
			}
			etas = append(etas, eta)
		}
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// Version 3: three batches were added, as through the service.
	if _, err := tx.ExecContext(ctx, `INSERT INTO products (sku, version_number) SELECT unnest($1::text[]), 3`, pq.StringArray(skus)); err != nil {
		return fmt.Errorf("seeding products: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO batches (ref, sku, purchased_quantity, eta)
		SELECT ref, sku, qty, NULLIF(eta, '')::date
		FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) WITH ORDINALITY AS n(ref, sku, qty, eta, position)
		ORDER BY position`, pq.StringArray(refs), pq.StringArray(bskus), pq.Int64Array(qtys), pq.StringArray(etas)); err != nil {
		return fmt.Errorf("seeding batches: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// Fresh tables' statistics, as autovacuum would have them in a store
	// that has been running.
	_, err = c.db.ExecContext(ctx, `ANALYZE products, batches, allocations`)
	return err
}

type ceilingOutcome int

const (
	outcomeAllocated ceilingOutcome = iota
	outcomeOutOfStock
)

// errConflict is an UPDATE or check that found the version moved.
var errConflict = errors.New("version moved")

func (c *ceiling) runPhase(ctx context.Context, phase phaseSKUs, d time.Duration) (RoundResult, error) {
	stats := make([]workerStats, c.o.concurrency)
	conflicts := make([]int, c.o.concurrency)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < c.o.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := &stats[w]
			s.latencies = make([]time.Duration, 0, 4096)
			pick := picker{
				rng:   rand.New(rand.NewPCG(uint64(w)+1, uint64(len(phase.name))*7919)),
				phase: phase, hotShare: c.o.hotShare, scarceShare: c.o.scarceShare, maxQty: c.o.maxQty,
			}
			jitter := rand.New(rand.NewPCG(uint64(w)+101, 3))
			prefix := fmt.Sprintf("%s-%s-w%02d-", c.runID, phase.name, w)
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				sku, qty := pick.next()
				orderID := prefix + strconv.Itoa(n)
				sent := time.Now()
				var (
					outcome ceilingOutcome
					err     error
				)
				// The service's conflict policy: up to 10 retries, the
				// first at once, then exponential from 1 ms to at most
				// 50 ms, jittered.
				wait := time.Duration(0)
				for attempt := 0; ; attempt++ {
					outcome, err = c.allocate(ctx, orderID, sku, qty)
					if !errors.Is(err, errConflict) || attempt == 10 {
						break
					}
					conflicts[w]++
					time.Sleep(time.Duration(float64(wait) * (0.5 + jitter.Float64())))
					wait = min(max(wait*2, time.Millisecond), 50*time.Millisecond)
				}
				elapsed := time.Since(sent)
				if err != nil {
					s.fail(err.Error())
					if !errors.Is(err, errConflict) {
						errOnce.Do(func() { firstErr = err })
						return
					}
					continue
				}
				s.latencies = append(s.latencies, elapsed)
				if outcome == outcomeAllocated {
					s.created++
				} else {
					s.outOfStock++
				}
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return RoundResult{}, firstErr
	}
	elapsed := time.Since(start)
	r := RoundResult{Seconds: elapsed.Seconds()}
	var all []time.Duration
	for w, s := range stats {
		all = append(all, s.latencies...)
		r.Created += s.created
		r.OutOfStock += s.outOfStock
		r.Errors += s.errors
		r.Conflicts += conflicts[w]
	}
	r.Requests = r.Created + r.OutOfStock + r.Errors
	r.Throughput = float64(r.Created+r.OutOfStock) / elapsed.Seconds()
	r.P50ms, r.P99ms = percentilesMS(all)
	if r.Requests > 0 {
		r.ErrorRate = float64(r.Errors) / float64(r.Requests)
	}
	return r, nil
}

// ceilingBatch is a batch as loaded: what allocation needs to choose.
type ceilingBatch struct {
	ref       string
	purchased int64
	eta       sql.NullTime
	allocated int64
}

// allocate is one operation: one database transaction.
func (c *ceiling) allocate(ctx context.Context, orderID, sku string, qty int) (outcome ceilingOutcome, err error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	rows, err := tx.QueryContext(ctx, ceilingSelect, sku)
	if err != nil {
		return 0, err
	}
	var (
		version int64
		batches []ceilingBatch
	)
	for rows.Next() {
		var (
			rowSKU            string
			ref, lineOrder    sql.NullString
			lineSKU           sql.NullString
			purchased, lineQt sql.NullInt64
			eta               sql.NullTime
		)
		if err := rows.Scan(&rowSKU, &version, &ref, &purchased, &eta, &lineOrder, &lineSKU, &lineQt); err != nil {
			rows.Close()
			return 0, err
		}
		if !ref.Valid {
			continue
		}
		if len(batches) == 0 || batches[len(batches)-1].ref != ref.String {
			batches = append(batches, ceilingBatch{ref: ref.String, purchased: purchased.Int64, eta: eta})
		}
		if lineOrder.Valid {
			batches[len(batches)-1].allocated += lineQt.Int64
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	chosen := choose(batches, int64(qty))

	if chosen == nil {
		var one int
		err := tx.QueryRowContext(ctx, ceilingCheck, sku, version).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, errConflict
		}
		if err != nil {
			return 0, err
		}
		payload, _ := json.Marshal(domain.OutOfStock{SKU: sku, OrderID: orderID, Qty: qty, Version: int(version)})
		if err := c.outbox(ctx, tx, "OutOfStock", payload); err != nil {
			return 0, err
		}
		return outcomeOutOfStock, tx.Commit()
	}
	res, err := tx.ExecContext(ctx, ceilingBump, sku, version)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, errors.Join(errConflict, err)
	}
	if _, err := tx.ExecContext(ctx, ceilingInsert, chosen.ref, orderID, sku, qty); err != nil {
		return 0, err
	}
	payload, _ := json.Marshal(domain.Allocated{OrderID: orderID, SKU: sku, Qty: qty, BatchRef: chosen.ref, Version: int(version) + 1})
	if err := c.outbox(ctx, tx, "Allocated", payload); err != nil {
		return 0, err
	}
	return outcomeAllocated, tx.Commit()
}

// choose applies the domain's preference: warehouse stock (no eta) first,
// then the earliest eta; ties keep insertion order.
func choose(batches []ceilingBatch, qty int64) *ceilingBatch {
	var best *ceilingBatch
	for i := range batches {
		b := &batches[i]
		if b.purchased-b.allocated < qty {
			continue
		}
		switch {
		case best == nil:
			best = b
		case !b.eta.Valid && best.eta.Valid:
			best = b
		case b.eta.Valid && best.eta.Valid && b.eta.Time.Before(best.eta.Time):
			best = b
		}
	}
	return best
}

// outboxEnvelope is watermill's forwarder envelope.
type outboxEnvelope struct {
	DestinationTopic string            `json:"destination_topic"`
	UUID             string            `json:"uuid"`
	Payload          []byte            `json:"payload"`
	Metadata         map[string]string `json:"metadata"`
}

// outbox inserts the event's row as the service's outbox publisher does:
// the event JSON with its metadata, enveloped for the forwarder when the
// broker is not SQL.
func (c *ceiling) outbox(ctx context.Context, tx *sql.Tx, name string, payload []byte) error {
	metadata := map[string]string{"name": name, "correlation_id": uuid.NewString()}
	id := uuid.NewString()
	if c.forwarder {
		envelope, err := json.Marshal(outboxEnvelope{DestinationTopic: app.EventTopic(name), UUID: id, Payload: payload, Metadata: metadata})
		if err != nil {
			return err
		}
		payload, metadata, id = envelope, map[string]string{}, uuid.NewString()
	}
	md, err := json.Marshal(metadata)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, c.insertFor[name], id, payload, md)
	return err
}
