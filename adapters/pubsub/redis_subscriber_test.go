package pubsub

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// readCounter is a go-redis hook recording how many entries each
// XREADGROUP of new entries returned.
type readCounter struct {
	roundTripCounter
	perRead chan int
}

func (h *readCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		err := next(ctx, cmd)
		h.countRead(cmd)
		return err
	}
}

func (h *readCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.countRead(c)
		}
		return err
	}
}

func (h *readCounter) countRead(cmd redis.Cmder) {
	read, ok := cmd.(*redis.XStreamSliceCmd)
	if !ok || fmt.Sprint(cmd.Args()[len(cmd.Args())-1]) != ">" {
		return
	}
	if streams := read.Val(); len(streams) == 1 && len(streams[0].Messages) > 0 {
		h.perRead <- len(streams[0].Messages)
	}
}

// newCountedSubscriber is a subscriber of group "g" on a stream of n
// entries (field n = 0, 1, ...), with a hook on its client.
func newCountedSubscriber(t *testing.T, n int, cfg redisSubscriberConfig) (*RedisStreamSubscriber, *readCounter, string, *redis.Client) {
	t.Helper()
	admin := newTestRedisClient(t)
	stream := newStreamWithGroup(t, admin, n)
	client := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	counter := &readCounter{perRead: make(chan int, 1000)}
	client.AddHook(counter)
	cfg.Group, cfg.Consumer = "g", "c"
	setDefault(&cfg.BlockTime, 100*time.Millisecond)
	setDefault(&cfg.ClaimInterval, time.Hour)
	setDefault(&cfg.MaxIdleTime, time.Hour)
	setDefault(&cfg.NackResendSleep, time.Millisecond)
	setDefault(&cfg.AckDelay, time.Hour)
	outage := newRedisOutageLog(watermill.NopLogger{})
	s := newRedisStreamSubscriber(client, cfg, watermill.NopLogger{}, outage, newRedisSubscribedGroups())
	t.Cleanup(func() { _ = s.Close() })
	return s, counter, stream, admin
}

// newStreamWithGroup makes a stream of n entries (field n = 0, 1, ...)
// and its consumer group "g", deleted after the test.
func newStreamWithGroup(t *testing.T, admin *redis.Client, n int) string {
	t.Helper()
	ctx := context.Background()
	stream := uniqueName("sub")
	t.Cleanup(func() { admin.Del(context.Background(), stream) })
	for i := range n {
		if err := admin.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"payload", fmt.Sprint(i)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	return stream
}

// receiveAndAckAll receives the next message, expecting payload, and
// acknowledges it; then nothing of the group "g" is pending.
func receiveAndAckAll(t *testing.T, ch <-chan *message.Message, admin *redis.Client, stream, payload string) {
	t.Helper()
	msg := receive(t, ch)
	if string(msg.Payload) != payload {
		t.Fatalf("got %q, want %q", msg.Payload, payload)
	}
	msg.Ack()
	eventually(t, "every entry acknowledged", func() bool { return pendingCount(t, admin, stream) == 0 })
}

func pendingCount(t *testing.T, admin *redis.Client, stream string) int64 {
	t.Helper()
	p, err := admin.XPending(context.Background(), stream, "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func TestRedisSubscriberReadsSeveralEntriesPerReadAndHandsThemOutInOrder(t *testing.T) {
	t.Parallel()
	s, counter, stream, _ := newCountedSubscriber(t, 40, redisSubscriberConfig{ReadAhead: 16})
	ch := subscribe(t, s, stream)
	for i := range 40 {
		msg := receive(t, ch)
		if string(msg.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: payload %s (out of stream order)", i, msg.Payload)
		}
		if msg.Metadata.Get(RedisEntryIDMetadataKey) == "" {
			t.Fatalf("message %d has no entry ID", i)
		}
		msg.Ack()
	}
	var reads []int
	for len(reads) < 3 {
		select {
		case n := <-counter.perRead:
			reads = append(reads, n)
		case <-time.After(waitTimeout):
			t.Fatalf("reads of new entries: %v", reads)
		}
	}
	if fmt.Sprint(reads) != "[16 16 8]" {
		t.Fatalf("entries per XREADGROUP: %v, want [16 16 8]", reads)
	}
}

// ackFirst subscribes to stream and acknowledges its first n entries.
func ackFirst(t *testing.T, s message.Subscriber, stream string, n int) <-chan *message.Message {
	t.Helper()
	ch := subscribe(t, s, stream)
	for range n {
		receive(t, ch).Ack()
	}
	return ch
}

// The acknowledgements of handled entries travel with the next read, not
// one XACK per entry.
func TestRedisSubscriberSendsAcknowledgementsWithTheNextRead(t *testing.T) {
	t.Parallel()
	s, counter, stream, admin := newCountedSubscriber(t, 40, redisSubscriberConfig{ReadAhead: 16})
	ackFirst(t, s, stream, 40)
	eventually(t, "every entry acknowledged", func() bool { return pendingCount(t, admin, stream) == 0 })
	trips, commands := counter.count("xack")
	if commands == 0 || commands > 4 {
		t.Fatalf("40 acknowledgements took %d XACK commands, want a few batches", commands)
	}
	if together := counter.tripsWithBoth("xack", "xreadgroup"); together != trips {
		t.Fatalf("%d of %d round trips with XACK carried a read; with AckDelay an hour, all should", together, trips)
	}
}

func TestRedisSubscriberSendsAcknowledgementsAfterTheDelayWhenNoReadComes(t *testing.T) {
	t.Parallel()
	// Reads block for an hour: only the timer can send the acknowledgements.
	s, _, stream, admin := newCountedSubscriber(t, 3, redisSubscriberConfig{ReadAhead: 16, AckDelay: 20 * time.Millisecond, BlockTime: time.Hour})
	ackFirst(t, s, stream, 3)
	eventually(t, "acknowledgements sent by the timer", func() bool { return pendingCount(t, admin, stream) == 0 })
}

func TestRedisSubscriberSendsAcknowledgementsOnCloseAndLeavesTheRestPending(t *testing.T) {
	t.Parallel()
	s, _, stream, admin := newCountedSubscriber(t, 20, redisSubscriberConfig{ReadAhead: 16})
	ch := ackFirst(t, s, stream, 4)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The first read took 16; 4 handled and acknowledged, 12 stay pending
	// for a claim, as unhandled entries must.
	if n := pendingCount(t, admin, stream); n != 12 {
		t.Fatalf("pending after close = %d, want 12", n)
	}
	if _, open := <-ch; open {
		t.Fatal("channel open after Close")
	}
}

func TestRedisSubscriberKeepsAcknowledgementsWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	admin := newTestRedisClient(t)
	stream := newStreamWithGroup(t, admin, 1)
	proxy := newCuttableProxy(t, testRedisAddr())
	client := redis.NewClient(&redis.Options{Addr: proxy.addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	s := newRedisStreamSubscriber(client, redisSubscriberConfig{
		Group: "g", Consumer: "c", ReadAhead: 16, BlockTime: 50 * time.Millisecond, ClaimInterval: time.Hour,
		MaxIdleTime: time.Hour, NackResendSleep: time.Millisecond, AckDelay: 20 * time.Millisecond,
	}, watermill.NopLogger{}, newRedisOutageLog(watermill.NopLogger{}), newRedisSubscribedGroups())
	ch := subscribe(t, s, stream)

	msg := receive(t, ch)
	proxy.cut()
	msg.Ack()
	// Reads and the timer fail while Redis is away; the acknowledgement
	// must survive them and go out once Redis is back.
	eventually(t, "a failed attempt", func() bool { return proxy.refused() > 2 })
	if n := pendingCount(t, admin, stream); n != 1 {
		t.Fatalf("pending while away = %d, want 1", n)
	}
	proxy.restore()
	eventually(t, "acknowledgement sent once Redis is back", func() bool { return pendingCount(t, admin, stream) == 0 })
}

// A nacked message comes back after NackResendSleep, not at once: the
// router nacks only when Redis is away, and at once would spin.
func TestRedisSubscriberRedeliversANackedMessageAfterThePause(t *testing.T) {
	t.Parallel()
	const pause = 300 * time.Millisecond
	s, _, stream, admin := newCountedSubscriber(t, 1, redisSubscriberConfig{NackResendSleep: pause})
	ch := subscribe(t, s, stream)
	first := receive(t, ch)
	nackedAt := time.Now()
	first.Nack()
	again := receive(t, ch)
	if waited := time.Since(nackedAt); waited < pause {
		t.Fatalf("redelivered after %s, want at least %s", waited, pause)
	}
	if again.UUID != first.UUID || string(again.Payload) != string(first.Payload) {
		t.Fatalf("redelivered %s %s, want %s %s", again.UUID, again.Payload, first.UUID, first.Payload)
	}
	again.Ack()
	eventually(t, "acknowledged", func() bool { return pendingCount(t, admin, stream) == 0 })
}

// A subscription that ended without acknowledging leaves its entries
// pending for this consumer; the next subscription gets them at once.
func TestRedisSubscriberResubscribingGetsItsOwnPendingEntriesAtOnce(t *testing.T) {
	t.Parallel()
	s, _, stream, admin := newCountedSubscriber(t, 3, redisSubscriberConfig{ReadAhead: 16})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.Subscribe(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, ch) // not acknowledged
	cancel()
	for range ch {
	}
	if n := pendingCount(t, admin, stream); n != 3 {
		t.Fatalf("pending = %d, want 3", n)
	}
	again := subscribe(t, s, stream)
	for i := range 3 {
		msg := receive(t, again)
		if string(msg.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: %s", i, msg.Payload)
		}
		msg.Ack()
	}
	eventually(t, "all acknowledged", func() bool { return pendingCount(t, admin, stream) == 0 })
}

// An entry deleted from the stream while pending (trimmed by hand) has
// nothing to hand over: it is acknowledged and skipped.
func TestRedisSubscriberSkipsPendingEntriesDeletedFromTheStream(t *testing.T) {
	t.Parallel()
	s, _, stream, admin := newCountedSubscriber(t, 2, redisSubscriberConfig{ReadAhead: 16})
	ctx := context.Background()
	// Another consumer took both, and died.
	taken, err := admin.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 2}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.XDel(ctx, stream, taken[0].Messages[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, s, stream)               // same consumer name: reads its pending entries
	receiveAndAckAll(t, ch, admin, stream, "1") // the entry that still exists
}

// A group's concurrent subscriber holds several messages at once, as one
// consumer; its ordered one holds one.
func TestRedisStreamsGroupHandlesSeveralMessagesAtOnce(t *testing.T) {
	t.Parallel()
	ps := newTestRedisPubSub(t, RedisStreamsConfig{ConsumerName: "par", ConsumersPerGroup: 3, ReadAhead: 16})
	admin := newTestRedisClient(t)
	topic, group := uniqueName("parallel"), uniqueName("group")
	t.Cleanup(func() { admin.Del(context.Background(), topic) })
	const n = 12
	for i := range n {
		if err := ps.Publisher().Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := ps.ConcurrentSubscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, sub, topic)
	held := []*message.Message{receive(t, ch), receive(t, ch), receive(t, ch)}
	select {
	case m := <-ch:
		t.Fatalf("a fourth message (%s) while three are unacknowledged", m.Payload)
	case <-time.After(100 * time.Millisecond):
	}
	consumers, err := admin.XInfoConsumers(context.Background(), topic, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(consumers) != 1 || consumers[0].Name != "par" {
		t.Fatalf("consumers of the group: %+v; want one, par", consumers)
	}
	got := map[string]bool{}
	for _, m := range held {
		got[string(m.Payload)] = true
		m.Ack()
	}
	for len(got) < n {
		m := receive(t, ch)
		got[string(m.Payload)] = true
		m.Ack()
	}
	eventually(t, "every entry acknowledged", func() bool {
		p, err := admin.XPending(context.Background(), topic, group).Result()
		return err == nil && p.Count == 0
	})
}
