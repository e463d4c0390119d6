package pubsub

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

func TestRedisPipelinedPublisherAddsNothingUntilFlushThenAllInOneRoundTrip(t *testing.T) {
	t.Parallel()
	admin := newTestRedisClient(t)
	ctx := context.Background()
	prefix := uniqueName("pfx") + "."
	t.Cleanup(func() { admin.Del(context.Background(), prefix+"a", prefix+"b") })
	raw := newTestRedisClient(t)
	counter := &roundTripCounter{}
	raw.AddHook(counter)
	p := &RedisPipelinedPublisher{client: raw, prefix: prefix, outage: newRedisOutageLog(watermill.NopLogger{})}

	if err := p.Publish("a", message.NewMessage("m1", []byte(`{"n":1}`)), message.NewMessage("m2", []byte(`{"n":2}`))); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish("b", message.NewMessage("m3", []byte(`{"n":3}`))); err != nil {
		t.Fatal(err)
	}
	if n := admin.XLen(ctx, prefix+"a").Val() + admin.XLen(ctx, prefix+"b").Val(); n != 0 {
		t.Fatalf("%d entries before Flush, want none", n)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if trips, commands := counter.count("xadd"); trips != 1 || commands != 3 {
		t.Fatalf("XADD in %d round trips as %d commands, want 3 commands in one", trips, commands)
	}
	entries := admin.XRange(ctx, prefix+"a", "-", "+").Val()
	if len(entries) != 2 || entries[0].Values[RedisPayloadField] != `{"n":1}` || entries[1].Values[RedisPayloadField] != `{"n":2}` {
		t.Fatalf("stream a: %v, want m1 then m2 as plain payloads", entries)
	}
	if n := admin.XLen(ctx, prefix+"b").Val(); n != 1 {
		t.Fatalf("stream b holds %d entries, want 1", n)
	}
	// Flushed once: a second Flush adds nothing.
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := admin.XLen(ctx, prefix+"a").Val(); n != 2 {
		t.Fatalf("stream a holds %d entries after a second Flush, want 2", n)
	}
}

func TestRedisPipelinedPublisherDropsTheQueueWhenFlushFails(t *testing.T) {
	t.Parallel()
	raw := newTestRedisClient(t)
	p := &RedisPipelinedPublisher{client: raw, prefix: uniqueName("gone") + ".", outage: newRedisOutageLog(watermill.NopLogger{})}
	if err := p.Publish("a", message.NewMessage("m1", []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()
	if err := p.Flush(context.Background()); err == nil {
		t.Fatal("Flush on a closed client succeeded")
	}
	if queued := p.queued.Take(); len(queued) != 0 {
		t.Fatalf("%d messages still queued; the relay publishes the batch again, so the queue must be empty", len(queued))
	}
}
