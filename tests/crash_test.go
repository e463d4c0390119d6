package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/postgres"
	"allocation/tests/testenv"
)

// A service killed with SIGKILL under load and started again loses nothing:
// every allocation answered 201 is in the database, every allocation in
// the database has exactly one line_allocated (after de-duplication by
// message UUID), no batch holds more than it has, and no message is left
// pending in any consumer group.
func TestSIGKILLUnderLoadLosesNothing(t *testing.T) {
	bin := binary.get(t)
	databaseURL := testenv.DatabaseURL(t)
	redisAddr := testenv.RedisAddr(t)
	prefix := testenv.TopicPrefix()
	env := map[string]string{
		"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": databaseURL,
		"REDIS_ADDR": redisAddr, "TOPIC_PREFIX": prefix, "LOG_LEVEL": "info",
	}
	first := startService(t, bin, env)

	// 20 skus, two batches of 40 each: with 1-3 per order about 500
	// orders fit, so the run ends with contention and some out of stock.
	run := watermill.NewShortUUID()
	skus := make([]string, 20)
	for i := range skus {
		skus[i] = fmt.Sprintf("k%s-%d", run, i)
		addBatch(t, first.URL, "a-"+skus[i], skus[i], 40, "")
		addBatch(t, first.URL, "b-"+skus[i], skus[i], 40, "2030-01-01")
	}

	var (
		mu        sync.Mutex
		answered  = map[string]string{} // orderid -> batchref, for every 201
		successes atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				order := fmt.Sprintf("o%s-%d-%d", run, w, n)
				sku := skus[rand.IntN(len(skus))]
				body := fmt.Sprintf(`{"orderid":%q,"sku":%q,"qty":%d}`, order, sku, 1+rand.IntN(3))
				resp, err := client.Post(first.URL+"/allocate", "application/json", strings.NewReader(body))
				if err != nil {
					continue // the process is gone: nothing was promised
				}
				var r struct {
					BatchRef string `json:"batchref"`
				}
				decodeErr := jsonDecode(resp, &r)
				if resp.StatusCode == http.StatusCreated && decodeErr == nil {
					mu.Lock()
					answered[order] = r.BatchRef
					mu.Unlock()
					successes.Add(1)
				}
			}
		}()
	}
	waitUntil(t, 30*time.Second, "200 allocations under load", func() bool { return successes.Load() >= 200 })
	first.signal(syscall.SIGKILL)
	first.wait(10 * time.Second)
	close(stop)
	wg.Wait()

	// The new process relays what the outbox still holds and claims the
	// dead consumer's pending entries.
	startService(t, bin, env)

	db, err := postgres.Open(t.Context(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := storedAllocations(t, db, "")
	for order, ref := range answered {
		if stored[order] != ref {
			t.Errorf("order %s was answered 201 on %s but the database has %q", order, ref, stored[order])
		}
	}
	if over := overAllocatedBatches(t, db, ""); len(over) > 0 {
		t.Errorf("%d batches over-allocated: %v", len(over), over)
	}

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	lineAllocated := func() map[string]int {
		perOrder := map[string]int{}
		seen := map[string]bool{}
		for _, m := range (&redisClient{rdb: rdb, prefix: prefix}).received(outboundTopic) {
			if seen[m.ID] {
				continue // a duplicate delivery: same UUID, dropped
			}
			seen[m.ID] = true
			order, _ := m.Payload["orderid"].(string)
			perOrder[order]++
		}
		return perOrder
	}
	waitUntil(t, 45*time.Second, "a line_allocated for every stored allocation", func() bool {
		return len(lineAllocated()) >= len(stored)
	})
	for order, n := range lineAllocated() {
		if n != 1 {
			t.Errorf("order %s has %d distinct line_allocated messages, want 1", order, n)
		}
		if _, ok := stored[order]; !ok {
			t.Errorf("line_allocated for order %s which the database does not hold", order)
		}
	}
	waitUntil(t, 45*time.Second, "no pending message in any consumer group", func() bool {
		return pendingMessages(t, rdb, prefix) == 0
	})
	t.Logf("%d answered 201 before the kill, %d allocations stored", len(answered), len(stored))
}

// pendingMessages sums the pending entries of every consumer group of
// every stream under the prefix.
func pendingMessages(t *testing.T, rdb *redis.Client, prefix string) int64 {
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var pending int64
	for _, key := range keys {
		if typ, _ := rdb.Type(ctx, key).Result(); typ != "stream" {
			continue
		}
		groups, err := rdb.XInfoGroups(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			pending += g.Pending
		}
	}
	return pending
}
