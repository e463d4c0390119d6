package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"allocation/contracts"
)

func TestRedisStreamsPublishedEntryIsPlain(t *testing.T) {
	t.Parallel()
	client, ps, topic := newRedisTopic(t, "plain")

	msg := message.NewMessage(uuid.NewString(), []byte(`{"orderid":"o1","sku":"LAMP","qty":10,"batchref":"b1"}`))
	middleware.SetCorrelationID("corr-42", msg)
	msg.Metadata.Set("contract", "line_allocated.v1")
	if err := ps.Publisher().Publish(topic, msg); err != nil {
		t.Fatal(err)
	}

	entries, err := client.XRange(context.Background(), topic, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d entries, want 1", len(entries))
	}
	want := map[string]string{
		"payload":        string(msg.Payload),
		"uuid":           msg.UUID,
		"correlation_id": "corr-42",
		"md_contract":    "line_allocated.v1",
	}
	for field, value := range want {
		if got := entries[0].Values[field]; got != value {
			t.Errorf("field %s = %v, want %q", field, got, value)
		}
	}
	if !json.Valid([]byte(entries[0].Values["payload"].(string))) {
		t.Error("payload field is not plain JSON")
	}
}

func TestRedisStreamsAcceptsPlainXAdd(t *testing.T) {
	t.Parallel()
	client, ps, topic := newRedisTopic(t, "xadd")
	ctx := context.Background()

	// What `XADD topic * payload '{"batchref":"b1","qty":5}'` does.
	id, err := client.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: []string{"payload", `{"batchref":"b1","qty":5}`}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	got := receive(t, subscribeGroup(t, ps, uniqueName("group"), topic))
	got.Ack()

	if string(got.Payload) != `{"batchref":"b1","qty":5}` {
		t.Errorf("payload %s", got.Payload)
	}
	if want := uuid.NewSHA1(entryUUIDNamespace, []byte(topic+"/"+id)).String(); got.UUID != want {
		t.Errorf("UUID %s, want %s derived from entry %s", got.UUID, want, id)
	}
	if got.Metadata.Get(contracts.MalformedReasonKey) != "" {
		t.Errorf("plain entry marked malformed: %v", got.Metadata)
	}
}

func TestRedisStreamsMalformedEntriesDoNotStopTheSubscription(t *testing.T) {
	t.Parallel()
	client, ps, topic := newRedisTopic(t, "malformed")
	ctx := context.Background()
	group := uniqueName("group")

	for _, values := range [][]string{
		{"foo", "bar"},                           // no payload field
		{"payload", "}{ not json"},               // garbage payload
		{"_watermill_message_uuid", "x"},         // watermill's default format, half of it
		{"payload", `{"batchref":"b1","qty":5}`}, // the good one after them
	} {
		if err := client.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	messages := subscribeGroup(t, ps, group, topic)

	var got []*message.Message
	for range 4 {
		msg := receive(t, messages)
		got = append(got, msg)
		msg.Ack()
	}
	if got[0].Metadata.Get(contracts.MalformedReasonKey) == "" || len(got[0].Payload) != 0 {
		t.Errorf("entry without payload: %q %v", got[0].Payload, got[0].Metadata)
	}
	if string(got[1].Payload) != "}{ not json" {
		t.Errorf("garbage payload not passed on: %q", got[1].Payload)
	}
	if got[2].Metadata.Get(contracts.MalformedReasonKey) == "" || got[2].UUID != "x" {
		t.Errorf("watermill-format entry without payload: %s %v", got[2].UUID, got[2].Metadata)
	}
	if string(got[3].Payload) != `{"batchref":"b1","qty":5}` || got[3].Metadata.Get(contracts.MalformedReasonKey) != "" {
		t.Errorf("good entry after malformed ones: %q %v", got[3].Payload, got[3].Metadata)
	}
	eventually(t, "every entry acked", func() bool {
		pending, err := client.XPending(ctx, topic, group).Result()
		return err == nil && pending.Count == 0
	})
}

func TestRedisStreamsConsumerGroups(t *testing.T) {
	t.Parallel()
	client := newTestRedisClient(t)
	// Two processes: two pub/subs with their own consumer names, reading
	// one entry at a time, so that neither can take every entry before the
	// other reads.
	first := newTestRedisPubSub(t, RedisStreamsConfig{ConsumerName: "first", ReadAhead: 1})
	second := newTestRedisPubSub(t, RedisStreamsConfig{ConsumerName: "second", ReadAhead: 1})
	topic := uniqueName("groups")
	t.Cleanup(func() { client.Del(context.Background(), topic) })
	shared, other := uniqueName("shared"), uniqueName("other")

	firstShared, secondShared := subscribeGroup(t, first, shared, topic), subscribeGroup(t, second, shared, topic)
	otherGroup := subscribeGroup(t, first, other, topic)

	const n = 12
	sent := publishMessages(t, first.Publisher(), topic, n)

	// A consumer holding an unacked message takes at most a few more
	// (redisstream reads ahead by two), so with both holding one, each
	// has provably got a share.
	a, b := receive(t, firstShared), receive(t, secondShared)
	a.Ack()
	b.Ack()
	seen := map[string]int{a.UUID: 1}
	seen[b.UUID]++
	for len(seen) < n {
		select {
		case msg := <-firstShared:
			seen[msg.UUID]++
			msg.Ack()
		case msg := <-secondShared:
			seen[msg.UUID]++
			msg.Ack()
		case <-time.After(waitTimeout):
			t.Fatalf("group %s got %d of %d messages", shared, len(seen), n)
		}
	}
	wantEachOnce(t, shared, seen, sent)

	all := map[string]bool{}
	for range n {
		msg := receive(t, otherGroup)
		all[msg.UUID] = true
		msg.Ack()
	}
	if len(all) != n {
		t.Errorf("group %s got %d distinct messages, want all %d", other, len(all), n)
	}
}

func TestRedisStreamsClaimsPendingEntriesOfADeadConsumer(t *testing.T) {
	t.Parallel()
	client := newTestRedisClient(t)
	fast := RedisStreamsConfig{MaxIdleTime: 300 * time.Millisecond, ClaimInterval: 100 * time.Millisecond}
	deadCfg, liveCfg := fast, fast
	deadCfg.ConsumerName, liveCfg.ConsumerName = "dead", "live"
	dead, live := newTestRedisPubSub(t, deadCfg), newTestRedisPubSub(t, liveCfg)
	topic, group := uniqueName("claim"), uniqueName("group")
	ctx := context.Background()
	t.Cleanup(func() { client.Del(ctx, topic) })

	// A plain entry: its UUID is derived from the entry, so it must come
	// out the same from the consumer that claims it.
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: []string{"payload", `{"x":1}`}}).Err(); err != nil {
		t.Fatal(err)
	}

	deadSub, err := dead.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	deadCtx, stopDead := context.WithCancel(ctx)
	defer stopDead()
	deadMessages, err := deadSub.Subscribe(deadCtx, topic)
	if err != nil {
		t.Fatal(err)
	}
	received := receive(t, deadMessages)
	// It dies: never acks, goes away.
	if err := deadSub.Close(); err != nil {
		t.Fatal(err)
	}
	pending, err := client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: topic, Group: group, Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(pending) != 1 || pending[0].Consumer != "dead" {
		t.Fatalf("pending after the consumer died: %v, %v", pending, err)
	}

	liveSub, err := live.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	claimed := receive(t, subscribe(t, liveSub, topic))
	claimed.Ack()
	if claimed.UUID != received.UUID || string(claimed.Payload) != `{"x":1}` {
		t.Errorf("claimed %s %s, want %s", claimed.UUID, claimed.Payload, received.UUID)
	}
	eventually(t, "claimed entry acked", func() bool {
		p, err := client.XPending(ctx, topic, group).Result()
		return err == nil && p.Count == 0
	})
}

func TestRedisStreamsClosingOneSubscriberLeavesTheOthersWorking(t *testing.T) {
	t.Parallel()
	ps := newTestRedisPubSub(t, RedisStreamsConfig{})
	topic := uniqueName("close")
	t.Cleanup(func() { newTestRedisClient(t).Del(context.Background(), topic) })

	closing, err := ps.Subscriber(uniqueName("closing"))
	if err != nil {
		t.Fatal(err)
	}
	_ = subscribe(t, closing, topic)
	staying, err := ps.Subscriber(uniqueName("staying"))
	if err != nil {
		t.Fatal(err)
	}
	messages := subscribe(t, staying, topic)
	if err := closing.Close(); err != nil {
		t.Fatal(err)
	}

	sent := message.NewMessage(uuid.NewString(), []byte(`{}`))
	if err := ps.Publisher().Publish(topic, sent); err != nil {
		t.Fatalf("publisher broken by a subscriber's Close: %v", err)
	}
	got := receive(t, messages)
	got.Ack()
	if got.UUID != sent.UUID {
		t.Errorf("got %s, want %s", got.UUID, sent.UUID)
	}
}

func TestRedisStreamsRequiresAConsumerGroup(t *testing.T) {
	ps, err := NewRedisStreamsPubSub(RedisStreamsConfig{Redis: redis.Options{Addr: testRedisAddr()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ps.Close() }()
	_, err = ps.Subscriber("")
	var missing MissingConsumerGroupError
	if !errors.As(err, &missing) {
		t.Errorf("err = %v, want MissingConsumerGroupError", err)
	}
}
