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

	"allocation/adapters/messagebus"
	"allocation/app"
)

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
