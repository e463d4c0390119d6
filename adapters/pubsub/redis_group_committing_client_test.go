package pubsub

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// newGroupCommittingTestClient is a groupCommittingClient with a counting
// hook, a stream name, and a key that is not a stream (XADD to it fails).
func newGroupCommittingTestClient(t *testing.T) (groupCommittingClient, *roundTripCounter, *redis.Client, string, string) {
	t.Helper()
	admin := newTestRedisClient(t)
	stream, notAStream := uniqueName("gc"), uniqueName("gcplain")
	t.Cleanup(func() { admin.Del(context.Background(), stream, notAStream) })
	if err := admin.Set(context.Background(), notAStream, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	t.Cleanup(func() { _ = raw.Close() })
	counter := &roundTripCounter{}
	raw.AddHook(counter)
	return newGroupCommittingClient(raw), counter, admin, stream, notAStream
}

// XADDs made at the same time (they share pipelines: groupcommit's tests
// show the batching) each return their own result: a failing one fails
// alone, and none is added twice.
func TestGroupCommittingClientConcurrentXAddsEachGetTheirOwnResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter, admin, stream, notAStream := newGroupCommittingTestClient(t)

	const n = 50
	ids := make(chan string, n)
	errs := make(chan error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"n", i}}).Result()
			if err != nil {
				errs <- err
				return
			}
			ids <- id
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- c.XAdd(ctx, &redis.XAddArgs{Stream: notAStream, Values: []any{"n", -1}}).Err()
	}()
	wg.Wait()
	close(ids)
	close(errs)

	seen := map[string]bool{}
	for id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("XADD returned id %q (twice: %v)", id, seen[id])
		}
		seen[id] = true
	}
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	if len(seen) != n || len(failed) != 1 || !strings.Contains(failed[0].Error(), "WRONGTYPE") {
		t.Fatalf("%d XADDs succeeded, errors %v; want %d and the one WRONGTYPE", len(seen), failed, n)
	}
	if got := admin.XLen(ctx, stream).Val(); got != n {
		t.Fatalf("stream holds %d entries, want %d (none added twice)", got, n)
	}
	if _, commands := counter.count("xadd"); commands != n+1 {
		t.Fatalf("%d XADD commands sent, want %d: each once", commands, n+1)
	}
}

// One pipeline holding a failing XADD among good ones: each gets its own
// result and the batch as a whole does not fail, since groupcommit would
// then add every good one again, alone.
func TestGroupCommittingClientBatchWithAFailingXAddFailsOnlyThatOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _, _, stream, notAStream := newGroupCommittingTestClient(t)

	adds := []*pendingXAdd{
		{args: &redis.XAddArgs{Stream: stream, Values: []any{"n", 1}}},
		{args: &redis.XAddArgs{Stream: notAStream, Values: []any{"n", 2}}},
		{args: &redis.XAddArgs{Stream: stream, Values: []any{"n", 3}}},
	}
	if err := c.addAll(ctx, adds); err != nil {
		t.Fatalf("the batch failed as a whole: %v", err)
	}
	if adds[0].err != nil || adds[0].id == "" || adds[2].err != nil || adds[2].id == "" {
		t.Fatalf("good XADDs: %+v, %+v; want ids and no errors", adds[0], adds[2])
	}
	if adds[1].err == nil || !strings.Contains(adds[1].err.Error(), "WRONGTYPE") {
		t.Fatalf("failing XADD: %v, want its WRONGTYPE", adds[1].err)
	}
}
