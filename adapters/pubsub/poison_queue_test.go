package pubsub

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/messagebus"
	"allocation/app"
	"allocation/tests/testenv"
)

// Every broker's poison queue lists, pages and replays the same way.
func TestPoisonQueues(t *testing.T) {
	tests := []struct {
		broker string
		open   func(t *testing.T, topic string) (messagebus.PubSub, string, app.PoisonQueue)
		// unknownID is well-formed for the queue but never parked.
		unknownID string
	}{
		{"redis", func(t *testing.T, topic string) (messagebus.PubSub, string, app.PoisonQueue) {
			raw, prefix, q := newRedisPoisonFixture(t, topic)
			return raw, prefix, q
		}, "1-0"},
		{"sql", func(t *testing.T, topic string) (messagebus.PubSub, string, app.PoisonQueue) {
			raw, prefix, q := newSQLPoisonFixture(t, topic)
			return raw, prefix, q
		}, "999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.broker+"/list and replay", func(t *testing.T) {
			t.Parallel()
			raw, prefix, q := tt.open(t, poisonTestTopic)
			testPoisonQueueListAndReplay(t, raw, prefix, q, tt.unknownID)
		})
		t.Run(tt.broker+"/round trip", func(t *testing.T) {
			t.Parallel()
			raw, prefix, q := tt.open(t, "roundtrip")
			testPoisonQueueRoundTrip(t, raw, prefix, "roundtrip", q)
		})
	}
}

// The poison queue tests below are shared by both brokers: raw is the
// broker without prefix, prefix the namespace of the test.

const poisonTestTopic = "orders"

var parkedAt = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

// park writes to the poison topic what the PoisonQueue middleware would.
func park(t *testing.T, raw messagebus.PubSub, prefix string, payload string) *message.Message {
	t.Helper()
	msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, "boom: "+msg.UUID)
	msg.Metadata.Set(middleware.PoisonedTopicKey, poisonTestTopic)
	msg.Metadata.Set(middleware.PoisonedHandlerKey, "orders.handler")
	msg.Metadata.Set(middleware.PoisonedSubscriberKey, "sub")
	msg.Metadata.Set(messagebus.ParkedAtKey, parkedAt.Format(time.RFC3339Nano))
	msg.Metadata.Set(middleware.CorrelationIDMetadataKey, "corr-"+msg.UUID)
	msg.Metadata.Set("custom", "kept")
	if err := raw.Publisher().Publish(prefix+messagebus.PoisonTopic, msg.Copy()); err != nil {
		t.Fatal(err)
	}
	return msg
}

func listParked(t *testing.T, q app.PoisonQueue) []app.ParkedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	parked, err := q.List(ctx, app.PoisonPage{Limit: app.MaxPoisonPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return parked
}

func waitParked(t *testing.T, q app.PoisonQueue, n int) []app.ParkedMessage {
	t.Helper()
	var parked []app.ParkedMessage
	eventually(t, "parked messages", func() bool {
		parked = listParked(t, q)
		return len(parked) == n
	})
	return parked
}

func replay(t *testing.T, q app.PoisonQueue, ids []string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return q.Replay(ctx, ids)
}

func checkReplayed(t *testing.T, got, want *message.Message) {
	t.Helper()
	if got.UUID != want.UUID || string(got.Payload) != string(want.Payload) {
		t.Errorf("replayed %s %s, want %s %s", got.UUID, got.Payload, want.UUID, want.Payload)
	}
	for _, key := range []string{middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey, messagebus.ParkedAtKey} {
		if v, ok := got.Metadata[key]; ok {
			t.Errorf("replayed message keeps poison metadata %s=%q", key, v)
		}
	}
	if got.Metadata.Get("custom") != "kept" || middleware.MessageCorrelationID(got) != "corr-"+want.UUID {
		t.Errorf("replayed metadata %v lost the original keys", got.Metadata)
	}
}

func testPoisonQueueListAndReplay(t *testing.T, raw messagebus.PubSub, prefix string, q app.PoisonQueue, unknownID string) {
	if parked := listParked(t, q); len(parked) != 0 {
		t.Fatalf("empty queue lists %v", parked)
	}

	first := park(t, raw, prefix, `{"n": 1}`)
	parked := waitParked(t, q, 1)
	p := parked[0]
	if p.ID == "" || p.UUID != first.UUID || p.Topic != poisonTestTopic || p.Handler != "orders.handler" ||
		p.Reason != "boom: "+first.UUID || p.Payload != `{"n": 1}` || !p.ParkedAt.Equal(parkedAt) ||
		p.CorrelationID != "corr-"+first.UUID || p.Metadata["custom"] != "kept" {
		t.Errorf("listed %+v", p)
	}

	replayedMsgs := subscribeGroup(t, raw, uniqueName("replayed"), prefix+poisonTestTopic)

	ids, err := replay(t, q, []string{p.ID})
	if err != nil || len(ids) != 1 || ids[0] != p.ID {
		t.Fatalf("Replay(%s) = %v, %v", p.ID, ids, err)
	}
	got := receive(t, replayedMsgs)
	got.Ack()
	checkReplayed(t, got, first)
	if parked := listParked(t, q); len(parked) != 0 {
		t.Errorf("replayed message still listed: %v", parked)
	}

	for _, id := range []string{p.ID, unknownID, "not-an-id"} {
		ids, err := replay(t, q, []string{id})
		var unknown app.UnknownParkedMessageError
		if !errors.As(err, &unknown) || unknown.ID != id || len(ids) != 0 {
			t.Errorf("Replay(%q) = %v, %v; want UnknownParkedMessageError", id, ids, err)
		}
	}

	second, third := park(t, raw, prefix, `{"n": 2}`), park(t, raw, prefix, `{"n": 3}`)
	parked = waitParked(t, q, 2)
	checkPoisonPages(t, q, parked)
	// An unknown id among known ones replays nothing.
	var unknown app.UnknownParkedMessageError
	if ids, err := replay(t, q, []string{parked[0].ID, unknownID}); !errors.As(err, &unknown) || len(ids) != 0 {
		t.Errorf("Replay(known, unknown) = %v, %v; want UnknownParkedMessageError", ids, err)
	}
	ids, err = replay(t, q, nil)
	if err != nil || len(ids) != 2 || ids[0] != parked[0].ID || ids[1] != parked[1].ID {
		t.Fatalf("Replay(nil) = %v, %v; want %s %s", ids, err, parked[0].ID, parked[1].ID)
	}
	byUUID := map[string]*message.Message{second.UUID: second, third.UUID: third}
	for range 2 {
		got := receive(t, replayedMsgs)
		got.Ack()
		want, ok := byUUID[got.UUID]
		if !ok {
			t.Fatalf("unexpected replayed message %s", got.UUID)
		}
		delete(byUUID, got.UUID)
		checkReplayed(t, got, want)
	}
	if parked := listParked(t, q); len(parked) != 0 {
		t.Errorf("replayed messages still listed: %v", parked)
	}
	if ids, err := replay(t, q, nil); err != nil || len(ids) != 0 {
		t.Errorf("Replay(nil) of an empty queue = %v, %v", ids, err)
	}
}

// testPoisonQueueRoundTrip parks a message through the real router and
// replays it once its handler works again.
func testPoisonQueueRoundTrip(t *testing.T, raw messagebus.PubSub, prefix, topic string, q app.PoisonQueue) {
	ps := NewNamespacedPubSub(raw, prefix)
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub:       ps,
		Retry:        messagebus.HandlerRetryPolicy{MaxRetries: 1, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond},
		CloseTimeout: waitTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	const handler = "roundtrip.handler"
	sub, err := ps.Subscriber(handler)
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	var attempts atomic.Int64
	handled := make(chan *message.Message, 10)
	bus.Router.AddConsumerHandler(handler, topic, sub, func(msg *message.Message) error {
		attempts.Add(1)
		if !healthy.Load() {
			return errors.New("database away (transient)")
		}
		handled <- msg
		return nil
	})

	testenv.RunRouter(t, bus.Router)

	msg := message.NewMessage(watermill.NewUUID(), []byte(`{"qty": 5}`))
	middleware.SetCorrelationID("corr-roundtrip", msg)
	if err := ps.Publisher().Publish(topic, msg); err != nil {
		t.Fatal(err)
	}

	parked := waitParked(t, q, 1)[0]
	if parked.UUID != msg.UUID || parked.Topic != topic || parked.Handler != handler ||
		parked.Payload != string(msg.Payload) || parked.CorrelationID != "corr-roundtrip" ||
		parked.Reason == "" || parked.ParkedAt.IsZero() {
		t.Errorf("parked %+v", parked)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts before parking, want 2 (1 retry)", n)
	}

	healthy.Store(true)
	if ids, err := replay(t, q, []string{parked.ID}); err != nil || len(ids) != 1 {
		t.Fatalf("Replay = %v, %v", ids, err)
	}
	select {
	case got := <-handled:
		if got.UUID != msg.UUID || string(got.Payload) != string(msg.Payload) || middleware.MessageCorrelationID(got) != "corr-roundtrip" {
			t.Errorf("handled %s %s %v", got.UUID, got.Payload, got.Metadata)
		}
		if got.Metadata.Get(middleware.ReasonForPoisonedKey) != "" || got.Metadata.Get(messagebus.ParkedAtKey) != "" {
			t.Errorf("replayed message keeps poison metadata: %v", got.Metadata)
		}
	case <-time.After(waitTimeout):
		t.Fatal("replayed message not handled within", waitTimeout)
	}
	if parked := listParked(t, q); len(parked) != 0 {
		t.Errorf("still parked after a successful replay: %v", parked)
	}
}

func newRedisPoisonFixture(t *testing.T, topics ...string) (*RedisStreamsPubSub, string, *RedisPoisonQueue) {
	t.Helper()
	client := newTestRedisClient(t)
	raw := newTestRedisPubSub(t, RedisStreamsConfig{})
	prefix := uniqueName("pq") + "."
	t.Cleanup(func() {
		keys := []string{prefix + messagebus.PoisonTopic}
		for _, topic := range topics {
			keys = append(keys, prefix+topic)
		}
		client.Del(context.Background(), keys...)
	})
	q := NewRedisPoisonQueue(client, NewNamespacedPubSub(raw, prefix).Publisher(), prefix)
	return raw, prefix, q
}

// An entry written by hand (redis-cli) without uuid nor parked_at lists
// with a stable UUID and the entry's time.
func TestRedisPoisonQueueListsPlainEntries(t *testing.T) {
	t.Parallel()
	client := newTestRedisClient(t)
	prefix := uniqueName("pq") + "."
	stream := prefix + messagebus.PoisonTopic
	t.Cleanup(func() { client.Del(context.Background(), stream) })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	before := time.Now().Add(-time.Second)
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"payload": `{"x":1}`, "md_topic_poisoned": "t"}}).Err(); err != nil {
		t.Fatal(err)
	}
	q := NewRedisPoisonQueue(client, nil, prefix)
	first, second := listParked(t, q), listParked(t, q)
	if len(first) != 1 || first[0].UUID == "" || first[0].UUID != second[0].UUID || first[0].Topic != "t" || first[0].Payload != `{"x":1}` {
		t.Fatalf("listed %+v then %+v", first, second)
	}
	if at := first[0].ParkedAt; at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("parked at %v, want the entry's time", at)
	}
}

// checkPoisonPages pages through a queue holding exactly parked.
func checkPoisonPages(t *testing.T, q app.PoisonQueue, parked []app.ParkedMessage) {
	t.Helper()
	ctx := context.Background()
	after := ""
	for i := range parked {
		page, err := q.List(ctx, app.PoisonPage{After: after, Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != parked[i].ID {
			t.Fatalf("page %d after %q = %v, %v; want %s", i, after, page, err, parked[i].ID)
		}
		after = page[0].ID
	}
	if page, err := q.List(ctx, app.PoisonPage{After: after, Limit: 1}); err != nil || len(page) != 0 {
		t.Errorf("page after the last = %v, %v; want none", page, err)
	}
	var cursor app.PoisonCursorError
	if _, err := q.List(ctx, app.PoisonPage{After: "not-an-id"}); !errors.As(err, &cursor) {
		t.Errorf("List(after not-an-id) = %v; want PoisonCursorError", err)
	}
}

func newSQLPoisonFixture(t *testing.T, topics ...string) (*SQLPubSub, string, *SQLPoisonQueue) {
	t.Helper()
	raw := newTestSQLPubSub(t)
	prefix := uniqueName("pq") + "."
	dropSQLTopic(t, raw, prefix+messagebus.PoisonTopic)
	for _, topic := range topics {
		dropSQLTopic(t, raw, prefix+topic)
	}
	q, err := NewSQLPoisonQueue(raw.db, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return raw, prefix, q
}

func TestSQLPoisonQueueRefusesPrefixTooLongForTables(t *testing.T) {
	var invalid InvalidSQLTopicError
	if _, err := NewSQLPoisonQueue(openTestDB(t), string(make([]byte, 50))+"x"); !errors.As(err, &invalid) {
		t.Errorf("got %v, want InvalidSQLTopicError", err)
	}
}

// Concurrent replays of one message move it once: the others find it gone.
// A message parked without parked_at lists with the row's time.
func TestSQLPoisonQueueReplaysOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	raw, prefix, q := newSQLPoisonFixture(t, poisonTestTopic)
	before := time.Now().Add(-time.Second)
	msg := message.NewMessage(watermill.NewUUID(), []byte(`{"n": 1}`))
	msg.Metadata.Set(middleware.PoisonedTopicKey, poisonTestTopic)
	if err := raw.Publisher().Publish(prefix+messagebus.PoisonTopic, msg); err != nil {
		t.Fatal(err)
	}
	parked := waitParked(t, q, 1)[0]
	if parked.ParkedAt.Before(before) || parked.ParkedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("parked at %v, want the row's created_at (about now)", parked.ParkedAt)
	}

	const replays = 5
	results := make(chan error, replays)
	var replayed atomic.Int64
	for range replays {
		go func() {
			ids, err := q.Replay(context.Background(), []string{parked.ID})
			replayed.Add(int64(len(ids)))
			results <- err
		}()
	}
	for range replays {
		var unknown app.UnknownParkedMessageError
		if err := <-results; err != nil && !errors.As(err, &unknown) {
			t.Errorf("concurrent replay: %v", err)
		}
	}
	if n := replayed.Load(); n != 1 {
		t.Errorf("replayed %d times, want once", n)
	}
	var rows int
	if err := raw.db.QueryRow(`SELECT count(*) FROM ` + SQLSchemaAdapter(0).MessagesTable(prefix+poisonTestTopic)).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows on the original topic, want 1", rows)
	}
}

func TestSQLPoisonQueueListsNothingBeforeTheTableExists(t *testing.T) {
	t.Parallel()
	_, _, q := newSQLPoisonFixture(t)
	if parked := listParked(t, q); len(parked) != 0 {
		t.Errorf("listed %v", parked)
	}
	var unknown app.UnknownParkedMessageError
	if _, err := q.Replay(context.Background(), []string{"1"}); !errors.As(err, &unknown) {
		t.Errorf("Replay(1) = %v, want UnknownParkedMessageError", err)
	}
	if ids, err := q.Replay(context.Background(), nil); err != nil || len(ids) != 0 {
		t.Errorf("Replay(nil) = %v, %v", ids, err)
	}
}
