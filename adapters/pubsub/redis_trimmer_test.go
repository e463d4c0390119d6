package pubsub

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// readAndAck reads n new entries of stream as group and acknowledges the
// first acked of them.
func readAndAck(t *testing.T, admin *redis.Client, stream, group string, n, acked int) []redis.XMessage {
	t.Helper()
	ctx := context.Background()
	streams, err := admin.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "c", Streams: []string{stream, ">"}, Count: int64(n)}).Result()
	if err != nil {
		t.Fatal(err)
	}
	entries := streams[0].Messages
	for _, e := range entries[:acked] {
		if err := admin.XAck(ctx, stream, group, e.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return entries
}

func addEntries(t *testing.T, admin *redis.Client, stream string, n int) {
	t.Helper()
	for i := range n {
		if err := admin.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{"payload", fmt.Sprint(i)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// Entries go once every group has acknowledged them, and only those:
// here group a still has entry 4 pending, group b has not read entry 8.
func TestRedisTrimmerRemovesWhatEveryGroupAcknowledged(t *testing.T) {
	t.Parallel()
	admin := newTestRedisClient(t)
	ps := newTestRedisPubSub(t, RedisStreamsConfig{})
	ctx := context.Background()
	stream, external := uniqueName("trim"), uniqueName("external")
	t.Cleanup(func() { admin.Del(ctx, stream, external) })
	for _, s := range []string{stream, external} {
		addEntries(t, admin, s, 10)
		for _, g := range []string{"a", "b"} {
			if err := admin.XGroupCreate(ctx, s, g, "0").Err(); err != nil {
				t.Fatal(err)
			}
		}
		readAndAck(t, admin, s, "a", 6, 4)
		readAndAck(t, admin, s, "b", 8, 8)
		ps.groups.add(s, "a")
	}
	ps.cfg.Trim.Untrimmed = []string{external}

	if err := ps.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := admin.XRange(ctx, stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 6 || left[0].Values["payload"] != "4" {
		t.Fatalf("left %d entries starting at %v, want 6 from entry 4 (pending in group a)", len(left), left[0].Values)
	}
	if n := admin.XLen(ctx, external).Val(); n != 10 {
		t.Fatalf("the untrimmed stream holds %d entries, want all 10", n)
	}
}

func TestRedisTrimmerBoundsThePoisonStream(t *testing.T) {
	t.Parallel()
	admin := newTestRedisClient(t)
	poison := uniqueName("poison")
	ps := newTestRedisPubSub(t, RedisStreamsConfig{Trim: RedisTrimConfig{PoisonStream: poison, PoisonMaxLen: 100}})
	t.Cleanup(func() { admin.Del(context.Background(), poison) })
	addEntries(t, admin, poison, 500)
	if err := ps.Trim(context.Background()); err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole nodes (100 entries each by default).
	if n := admin.XLen(context.Background(), poison).Val(); n < 100 || n > 200 {
		t.Fatalf("poison stream holds %d entries, want about 100", n)
	}
}
