package pubsub

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis losing the stream and its group (a restart without data) while a
// subscription reads it: the subscription recreates the group and goes on.
// The stream comes back holding an entry added before the group was
// recreated (as the outbox relay re-adds what it could not add): the group
// starts at "0", so that entry is delivered, not skipped as "$" would.
func TestRedisSubscriberRecreatesALostGroupAndReadsWhatTheStreamHolds(t *testing.T) {
	t.Parallel()
	s, _, stream, admin := newCountedSubscriber(t, 1, redisSubscriberConfig{BlockTime: time.Second})
	ctx := context.Background()
	ch := subscribe(t, s, stream)
	receive(t, ch).Ack()
	eventually(t, "first entry acknowledged", func() bool { return pendingCount(t, admin, stream) == 0 })

	// One step, so that the group is not recreated in between.
	tx := admin.TxPipeline()
	tx.Del(ctx, stream)
	tx.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"payload", "after the loss"}})
	if _, err := tx.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	receiveAndAckAll(t, ch, admin, stream, "after the loss")
}

func TestRedisReadinessNamesMissingConsumerGroups(t *testing.T) {
	t.Parallel()
	ps := newTestRedisPubSub(t, RedisStreamsConfig{})
	admin := newTestRedisClient(t)
	stream := uniqueName("ready")
	t.Cleanup(func() { admin.Del(context.Background(), stream) })
	sub, err := ps.Subscriber("present")
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, sub, stream)
	if err := ps.Ready(context.Background()); err != nil {
		t.Fatalf("ready with its group present: %v", err)
	}
	// A group the service reads that Redis does not have.
	ps.groups.add(stream, "absent")
	err = ps.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), stream+"/absent") || strings.Contains(err.Error(), "present") {
		t.Fatalf("ready = %v, want an error naming %s/absent only", err, stream)
	}
}

func TestRedisReadinessFailsWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	requireIntegration(t)
	proxy := newCuttableProxy(t, testRedisAddr())
	ps, err := NewRedisStreamsPubSub(RedisStreamsConfig{Redis: redis.Options{Addr: proxy.addr(), MaxRetries: -1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	if err := ps.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	if err := ps.Ready(context.Background()); err == nil {
		t.Fatal("ready while Redis is away")
	}
}
