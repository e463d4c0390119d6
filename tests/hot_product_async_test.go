package tests

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/postgres"
)

// Issue 12, point 5: the flash sale on the asynchronous path. Two service
// processes on one database and one broker namespace, one sku with 300
// units in 3 batches of 100; 400 orders of 1 sent with Prefer:
// respond-async, half to each process, from 32 clients, each answered 202
// with its Location. Meanwhile change_batch_quantity messages from the
// broker work on the same product (each loads and locks it for a write):
//
//   - no-ops: a base batch set to the 100 it has;
//   - real changes: four spare batches of 1 unit, shipping in 2099 (after
//     every base batch, so an order lands on one only when the base 300 are
//     taken), are each set to 0 once they hold an order line. That line is
//     deallocated and re-allocated (a command again) and, the base being
//     full, refused.
//
// Every spare holds a line at some point (400 orders, at most 304 units),
// base batches never shrink, and every message sets the quantity the batch
// ends with whatever order they are handled in, so the outcome is exact:
// 300 lines on the base batches, 100 orders refused, the 4 spares empty.
// The read model shows exactly the stored 300 and nothing for the other
// 100; once the broker holds nothing pending, neither process has parked
// anything (a command parked as "concurrent update" after its retries is
// what the issue forbids).
func TestHotProductAsyncCommandsAreAllHandledNoneParked(t *testing.T) {
	onTwoProcesses(t, func(t *testing.T, env map[string]string, one, two *process) {
		pending := brokerBacklog(t, env)
		outside := outsideClientFor(t, env)
		db, err := postgres.Open(t.Context(), env["DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })

		sale := newFlashSale(t, one.URL, 100, 100, 100)
		var spares []string
		for i := range 4 {
			ref := fmt.Sprintf("spare%d-%s", i, sale.sku)
			addBatch(t, one.URL, ref, sale.sku, 1, fmt.Sprintf("2099-01-%02d", i+1))
			spares = append(spares, ref)
		}
		var base []string
		for ref := range sale.batches {
			base = append(base, ref)
		}
		changeQuantity := func(ref string, qty int) {
			outside.publish(t, inboundTopic, fmt.Sprintf(`{"batchref":%q,"qty":%d}`, ref, qty), "")
		}

		began := time.Now()
		var (
			answers []orderAnswer
			sending sync.WaitGroup
		)
		sending.Go(func() {
			answers = sale.order(t, []string{one.URL, two.URL}, 400, 32, "Prefer", "respond-async")
		})
		func() {
			defer sending.Wait() // also when publishing fails the test
			for i := range 30 {
				changeQuantity(base[i%len(base)], 100)
			}
		}()
		for _, a := range answers {
			if want := "/allocations/" + a.orderID; a.err != nil || a.status != http.StatusAccepted || a.location != want {
				t.Errorf("order %s = %d %s, Location %q (%v); want 202, Location %s", a.orderID, a.status, a.body, a.location, a.err, want)
			}
		}
		if t.Failed() {
			t.FailNow()
		}

		zeroed := map[string]bool{}
		waitUntil(t, 90*time.Second, "each spare batch to take an order line (then set to 0)", func() bool {
			for _, ref := range linesOnBatches(t, db, spares) {
				if !zeroed[ref] {
					zeroed[ref] = true
					changeQuantity(ref, 0)
					changeQuantity(ref, 0) // again: the second is a no-op
				}
			}
			return len(zeroed) == len(spares)
		})
		t.Logf("4 spare batches took a line each and were set to 0 after %s", time.Since(began).Round(time.Millisecond))

		// The end state, stable once reached: base batches full (they
		// never shrink), spares at 0 and empty.
		var stored map[string]string
		waitUntil(t, 90*time.Second, "300 lines on the base batches and the spares at 0", func() bool {
			if !batchesAtQuantity(t, db, spares, 0) {
				return false
			}
			stored = storedAllocations(t, db, sale.sku)
			return len(stored) == sale.units
		})
		perBatch := map[string]int{}
		for order, ref := range stored {
			perBatch[ref]++
			if _, ok := sale.batches[ref]; !ok {
				t.Errorf("order %s stored on %s, not a base batch", order, ref)
			}
		}
		for _, batch := range overAllocatedBatches(t, db, sale.sku) {
			t.Errorf("batch %s", batch)
		}
		t.Logf("stored: %d lines after %s, per batch %v", len(stored), time.Since(began).Round(time.Millisecond), perBatch)

		want := map[string]string{} // orderid -> stored batch, "" for none
		for _, a := range answers {
			want[a.orderID] = stored[a.orderID]
		}
		sale.waitForReadModel(t, one.URL, want, "the read model to show the 300 stored orders and nothing for the other 100")

		var (
			backlog string
			groups  int
		)
		defer func() {
			if backlog != "" {
				t.Logf("still pending: %s", backlog)
			}
		}()
		waitUntil(t, 90*time.Second, "nothing pending on the broker", func() bool {
			backlog, groups = pending()
			return backlog == ""
		})
		t.Logf("read model settled and nothing pending in %d consumer groups after %s", groups, time.Since(began).Round(time.Millisecond))

		for _, p := range []*process{one, two} {
			var parked []map[string]any
			get(t, p.URL+"/admin/poison").json(t, &parked)
			for _, m := range parked {
				t.Errorf("%s parked: handler %v, topic %v, reason %q, payload %v", p.URL, m["handler"], m["topic"], m["reason"], m["payload"])
			}
			t.Logf("%s: %v handler retries, %v concurrency conflicts", p.URL,
				metric(t, p.URL, "allocation_handler_retries_total"), metric(t, p.URL, "allocation_concurrency_conflicts_total"))
		}
		// Nothing moved once everything was handled.
		sale.checkReadModelNow(t, two.URL, want)
		if again := storedAllocations(t, db, sale.sku); !maps.Equal(again, stored) {
			t.Errorf("the stored lines changed once the broker settled: %d lines, %d before", len(again), len(stored))
		}
	})
}

// outsideClientFor is another service on the broker of env (as from
// postgresEnv): Redis streams in its topic namespace, or the SQL tables.
func outsideClientFor(t *testing.T, env map[string]string) outsideClient {
	t.Helper()
	if env["BROKER"] == "redis" {
		return newRedisClient(t, env["REDIS_ADDR"], env["TOPIC_PREFIX"])
	}
	return newSQLClient(t, env["DATABASE_URL"])
}

// linesOnBatches names the batches among refs that hold an order line.
func linesOnBatches(t *testing.T, db *sql.DB, refs []string) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT DISTINCT batch_ref FROM allocations WHERE batch_ref = ANY($1)`, pq.StringArray(refs))
}

// queryStrings runs a query of one text column and returns its values.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var values []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return values
}

// batchesAtQuantity tells whether every batch of refs has qty units.
func batchesAtQuantity(t *testing.T, db *sql.DB, refs []string, qty int) bool {
	t.Helper()
	var others int
	err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM batches WHERE ref = ANY($1) AND purchased_quantity <> $2`, pq.StringArray(refs), qty).Scan(&others)
	if err != nil {
		t.Fatal(err)
	}
	return others == 0
}

// brokerBacklog returns a function that describes what the broker of env
// still holds for the deployment's consumer groups ("" when nothing), and
// counts the groups it looked at: on Redis, entries of the namespace's
// streams not yet delivered to a group or delivered and not acked; on SQL,
// messages past a group's offset.
func brokerBacklog(t *testing.T, env map[string]string) func() (string, int) {
	t.Helper()
	if env["BROKER"] == "redis" {
		rdb := redis.NewClient(&redis.Options{Addr: env["REDIS_ADDR"]})
		t.Cleanup(func() { _ = rdb.Close() })
		return func() (string, int) { return redisBacklog(t, rdb, env["TOPIC_PREFIX"]) }
	}
	db, err := postgres.Open(t.Context(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return func() (string, int) { return sqlBacklog(t, db) }
}

func redisBacklog(t *testing.T, rdb *redis.Client, prefix string) (string, int) {
	t.Helper()
	ctx := t.Context()
	var (
		backlog []string
		count   int
	)
	iter := rdb.ScanType(ctx, 0, prefix+"*", 100, "stream").Iterator()
	for iter.Next(ctx) {
		stream := iter.Val()
		info, err := rdb.XInfoStream(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		groups, err := rdb.XInfoGroups(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		count += len(groups)
		for _, g := range groups {
			if g.Pending > 0 || streamIDBefore(t, g.LastDeliveredID, info.LastGeneratedID) {
				backlog = append(backlog, fmt.Sprintf("%s group %s: %d pending, last delivered %s of %s",
					strings.TrimPrefix(stream, prefix), g.Name, g.Pending, g.LastDeliveredID, info.LastGeneratedID))
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(backlog, "; "), count
}

// streamIDBefore compares Redis stream entry IDs ("ms-seq").
func streamIDBefore(t *testing.T, a, b string) bool {
	t.Helper()
	parse := func(id string) [2]uint64 {
		ms, seq, _ := strings.Cut(id, "-")
		m, err1 := strconv.ParseUint(ms, 10, 64)
		s, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("stream entry id %q", id)
		}
		return [2]uint64{m, s}
	}
	x, y := parse(a), parse(b)
	return x[0] < y[0] || x[0] == y[0] && x[1] < y[1]
}

// sqlBacklog counts, for each consumer group of each topic (one offsets
// table "watermill_offsets_<topic>" per topic, a row per group), the
// messages after its acked position in the order watermill-sql reads them:
// (transaction_id, offset).
func sqlBacklog(t *testing.T, db *sql.DB) (string, int) {
	t.Helper()
	ctx := t.Context()
	topics := queryStrings(t, db, `SELECT substr(table_name, length('watermill_offsets_') + 1) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name LIKE 'watermill\_offsets\_%'`)
	var (
		backlog []string
		count   int
	)
	for _, topic := range topics {
		messages, offsets := pq.QuoteIdentifier("watermill_"+topic), pq.QuoteIdentifier("watermill_offsets_"+topic)
		rows, err := db.QueryContext(ctx, `SELECT o.consumer_group, count(m.*) FROM `+offsets+` o
			LEFT JOIN `+messages+` m ON m.transaction_id > o.last_processed_transaction_id
				OR (m.transaction_id = o.last_processed_transaction_id AND m."offset" > o.offset_acked)
			GROUP BY o.consumer_group`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				group string
				n     int
			)
			if err := rows.Scan(&group, &n); err != nil {
				t.Fatal(err)
			}
			if count++; n == 0 {
				continue
			}
			backlog = append(backlog, fmt.Sprintf("%s group %s: %d messages", topic, group, n))
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(backlog, "; "), count
}
