package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// The ceiling: what PostgreSQL alone allows for the database work of one
// allocation, issued through database/sql (lib/pq, opened as the service
// opens it, statements prepared once per connection) by the same number
// of workers on the same request mix, with no HTTP, no Watermill and no
// domain objects in between: one transaction per order, the store's
// transaction for a burst of one command. Each operation:
//
//	BEGIN
//	SELECT the product FOR UPDATE OF p, with its batches (allocated_quantity)
//	       and the lines of this order only (the store's query; it runs once
//	       more when it waited for a transaction that changed the product)
//	-- allocated, one statement (the store's writeOneAllocation):
//	WITH moved AS (UPDATE products ...), batch AS (UPDATE batches ...) INSERT INTO allocations ...
//	INSERT INTO outbox ...  -- the event, as the store writes it (BROKER=sql:
//	                         -- INSERT INTO "watermill_<topic>", as watermill-sql does)
//	-- out of stock (the product is unchanged, and locked: nothing to check):
//	INSERT INTO outbox ...
//	COMMIT
//
// Workers on one product take turns on its row lock, as the service's
// transactions do, so nothing conflicts and nothing is retried: the
// version check of the UPDATE stays, as in the store, and a version that
// moved under the lock is an error. The schema is the service's own: the
// binary is started once on a fresh schema (it migrates it and creates
// its outbox tables) and stopped before the ceiling runs there.
//
// pgbench would need the batch choice and the re-read after a lock wait
// moved into SQL, a different piece of work, so the ceiling stays in Go.
const (
	// ceilingSelect and ceilingAllocate are the store's statements, copied
	// as they are (TestCeilingRunsTheStoresStatements): the ceiling must
	// run what the service runs, not a cheaper variant.
	ceilingSelect = `
SELECT p.sku, p.version_number, (SELECT version_number FROM products WHERE sku = p.sku) AS read_version,
       b.ref, b.purchased_quantity, b.eta, b.allocated_quantity, b.last_change, a.orderid, a.sku, a.qty
FROM products p
LEFT JOIN batches b ON b.sku = p.sku
LEFT JOIN allocations a ON a.batch_ref = b.ref AND a.orderid = ANY($2::text[])
WHERE p.sku = $1 ORDER BY b.id, a.id FOR UPDATE OF p`
	ceilingAllocate = `WITH moved AS (
	UPDATE products SET version_number = $3 WHERE sku = $1 AND version_number = $2 RETURNING sku
), batch AS (
	UPDATE batches
	SET purchased_quantity = $5, allocated_quantity = $6, eta = NULLIF($7, '')::date, last_change = NULLIF($8, '')
	WHERE ref = $4 AND EXISTS (SELECT 1 FROM moved)
	RETURNING ref
)
INSERT INTO allocations (batch_ref, orderid, sku, qty) SELECT ref, $9, $10, $11 FROM batch`
	ceilingOutboxInsert = `INSERT INTO outbox (uuid, topic, payload, metadata) VALUES ($1, $2, $3, $4)`
	// outboxInsertFmt is watermill-sql's insert into a topic's table.
	outboxInsertFmt = `INSERT INTO "watermill_%s" (uuid, payload, metadata, transaction_id) VALUES ($1, $2, $3, pg_current_xact_id())`
)

type ceiling struct {
	o  options
	db *sql.DB
	// The prepared statements: the store's two, and the insert of an
	// event by its name: into the outbox table with its topic (BROKER=redis),
	// or into its topic's table (BROKER=sql).
	selectProduct, allocateLine *sql.Stmt
	insertFor                   map[string]func(ctx context.Context, tx *sql.Tx, id string, payload, metadata []byte) error
	runID                       string
}

// eventTopics are the topics of the events an allocation writes, by name.
var eventTopics = map[string]string{"Allocated": allocatedEventTopic, "OutOfStock": outOfStockEventTopic}

// measureCeiling measures rounds ceiling rounds, numbered from first, after
// a warm-up, on a fresh schema the service binary has set up.
func measureCeiling(ctx context.Context, o options, cfg runConfig, stdout io.Writer, first, rounds int) (res *CeilingResult, err error) {
	d, err := newDeployment(ctx, o, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, d.cleanup()) }()
	svc, err := startService(ctx, o, cfg.Name()+"-ceiling-schema", d.env)
	if err != nil {
		return nil, err
	}
	if err := svc.stop(); err != nil {
		return nil, err
	}
	c, err := newCeiling(ctx, o, cfg, d.databaseURL)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, c.db.Close()) }()
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
		before := sampleCPU()
		r, err := c.runPhase(ctx, phase, o.ceilingRound)
		if err != nil {
			return nil, err
		}
		r.CPU = cpuShare(before, sampleCPU(), r.Created+r.OutOfStock)
		r.Round = i
		res.Rounds = append(res.Rounds, r)
		logf(stdout, "%s: ceiling round %d: %.0f tx/s, p50 %.2f ms, p99 %.2f ms, %d allocated, %d out of stock, %d products read again after a lock wait; CPU (cores): load generator %.2f, postgres %.2f (%.0f µs/tx)",
			cfg.Name(), i, r.Throughput, r.P50ms, r.P99ms, r.Created, r.OutOfStock, r.Reloads, r.CPU.Bench, r.CPU.Postgres, r.CPU.PostgresMicros)
	}
	res.Summary = summarize(res.Rounds)
	return res, nil
}

// newCeiling connects to the schema and prepares the statements.
func newCeiling(ctx context.Context, o options, cfg runConfig, databaseURL string) (*ceiling, error) {
	db, err := openDB(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	c := &ceiling{o: o, db: db, insertFor: map[string]func(context.Context, *sql.Tx, string, []byte, []byte) error{}, runID: "c" + randomHex(3)}
	prepare := func(query string) *sql.Stmt {
		stmt, prepErr := db.PrepareContext(ctx, query)
		err = errors.Join(err, prepErr)
		return stmt
	}
	c.selectProduct, c.allocateLine = prepare(ceilingSelect), prepare(ceilingAllocate)
	relayed := prepare(ceilingOutboxInsert)
	for name, topic := range eventTopics {
		if cfg.Broker != "sql" {
			c.insertFor[name] = func(ctx context.Context, tx *sql.Tx, id string, payload, metadata []byte) error {
				_, err := tx.StmtContext(ctx, relayed).ExecContext(ctx, id, topic, payload, string(metadata))
				return err
			}
			continue
		}
		own := prepare(fmt.Sprintf(outboxInsertFmt, topic))
		c.insertFor[name] = func(ctx context.Context, tx *sql.Tx, id string, payload, metadata []byte) error {
			_, err := tx.StmtContext(ctx, own).ExecContext(ctx, id, payload, metadata)
			return err
		}
	}
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return c, nil
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

// runPhase runs the closed loop on the database; nothing is expected to
// fail (the lock leaves no conflict to retry), so any error ends it.
func (c *ceiling) runPhase(ctx context.Context, phase phaseSKUs, d time.Duration) (RoundResult, error) {
	order := func(ctx context.Context, orderID []byte, sku string, qty int, s *workerStats) bool {
		sent := time.Now()
		outcome, reloaded, err := c.allocate(ctx, string(orderID), sku, qty)
		if err != nil {
			s.fail(err.Error())
			return false
		}
		s.latencies = append(s.latencies, time.Since(sent))
		if reloaded {
			s.reloads++
		}
		if outcome == outcomeAllocated {
			s.created++
		} else {
			s.outOfStock++
		}
		return true
	}
	r := runClosedLoop(ctx, closedLoop{
		runID: c.runID, phase: phase, d: d, clients: c.o.concurrency, client: func(int) (orderFunc, func()) { return order, func() {} },
		hotShare: hotShare, scarceShare: scarceShare, maxQty: maxQty,
	})
	if r.Errors > 0 {
		return r, errors.New(r.FirstError)
	}
	return r, nil
}

// ceilingBatch is a batch as loaded: what allocation needs to choose, and
// what its UPDATE writes back.
type ceilingBatch struct {
	ref       string
	purchased int64
	eta       sql.NullTime
	allocated int64
}

// etaText is the eta as the store writes it: a date, or empty (NULLIF
// makes it NULL) for warehouse stock.
func (b *ceilingBatch) etaText() string {
	if !b.eta.Valid {
		return ""
	}
	return b.eta.Time.Format(time.DateOnly)
}

// ceilingProduct is what the store's query returns for one product.
type ceilingProduct struct {
	version int64
	// stale: the query waited for the lock while another transaction
	// changed the product; its batches are as they were before that.
	stale   bool
	batches []ceilingBatch
}

// allocate is one order: one database transaction. reloaded tells that the
// product was read a second time, after a lock wait.
func (c *ceiling) allocate(ctx context.Context, orderID, sku string, qty int) (outcome ceilingOutcome, reloaded bool, err error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// As the store: a read that waited for a change is run again, now
	// under the lock; a second stale read cannot happen.
	p, err := c.load(ctx, tx, sku, orderID)
	if err == nil && p.stale {
		reloaded = true
		p, err = c.load(ctx, tx, sku, orderID)
		if err == nil && p.stale {
			err = fmt.Errorf("product %s still changing while locked", sku)
		}
	}
	if err != nil {
		return 0, reloaded, err
	}
	chosen := choose(p.batches, int64(qty))

	if chosen == nil {
		payload, _ := json.Marshal(outOfStockEvent{SKU: sku, OrderID: orderID, Qty: qty, Version: int(p.version)})
		if err := c.outbox(ctx, tx, "OutOfStock", payload); err != nil {
			return 0, reloaded, err
		}
		return outcomeOutOfStock, reloaded, tx.Commit()
	}
	res, err := tx.StmtContext(ctx, c.allocateLine).ExecContext(ctx, sku, p.version, p.version+1,
		chosen.ref, chosen.purchased, chosen.allocated+int64(qty), chosen.etaText(), "", orderID, sku, qty)
	if err != nil {
		return 0, reloaded, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, reloaded, errors.Join(fmt.Errorf("product %s: version %d moved under the lock", sku, p.version), err)
	}
	payload, _ := json.Marshal(allocatedEvent{OrderID: orderID, SKU: sku, Qty: qty, BatchRef: chosen.ref, Version: int(p.version) + 1})
	if err := c.outbox(ctx, tx, "Allocated", payload); err != nil {
		return 0, reloaded, err
	}
	return outcomeAllocated, reloaded, tx.Commit()
}

// load runs the store's query once: the product locked, its batches with
// their allocated totals, and the lines of this order, of which there are
// none (every order id is new).
func (c *ceiling) load(ctx context.Context, tx *sql.Tx, sku, orderID string) (p ceilingProduct, err error) {
	rows, err := tx.StmtContext(ctx, c.selectProduct).QueryContext(ctx, sku, pq.StringArray{orderID})
	if err != nil {
		return p, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	found := false
	for rows.Next() {
		var (
			rowSKU                  string
			readVersion             int64
			ref, lineOrder, lineSKU sql.NullString
			purchased, allocated    sql.NullInt64
			lineQty                 sql.NullInt64
			eta                     sql.NullTime
		)
		if err := rows.Scan(&rowSKU, &p.version, &readVersion, &ref, &purchased, &eta, &allocated, new(sql.NullString), &lineOrder, &lineSKU, &lineQty); err != nil {
			return p, err
		}
		found = true
		p.stale = p.stale || p.version != readVersion
		if lineOrder.Valid {
			// The service would answer with that line's batch; here it
			// means the ceiling's order ids are not unique.
			return p, fmt.Errorf("order %s already has a line in batch %s", orderID, ref.String)
		}
		if ref.Valid {
			p.batches = append(p.batches, ceilingBatch{ref: ref.String, purchased: purchased.Int64, eta: eta, allocated: allocated.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	if !found {
		return p, fmt.Errorf("product %s not found", sku)
	}
	return p, nil
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

// allocatedEvent and outOfStockEvent are the events' JSON, as the service
// writes them to its outbox.
type allocatedEvent struct {
	OrderID  string `json:"orderid"`
	SKU      string `json:"sku"`
	Qty      int    `json:"qty"`
	BatchRef string `json:"batchref"`
	Version  int    `json:"version"`
}

type outOfStockEvent struct {
	SKU     string `json:"sku"`
	OrderID string `json:"orderid"`
	Qty     int    `json:"qty"`
	Version int    `json:"version"`
}

// outbox writes the event's row as the service's outbox does: the event
// JSON with its metadata.
func (c *ceiling) outbox(ctx context.Context, tx *sql.Tx, name string, payload []byte) error {
	md, err := json.Marshal(map[string]string{"name": name, "correlation_id": uuid.NewString()})
	if err != nil {
		return err
	}
	return c.insertFor[name](ctx, tx, uuid.NewString(), payload, md)
}
