package pubsub

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/messagebus"
	"allocation/app"
)

// redisPoisonPageSize is how many entries one XRANGE of List reads.
const redisPoisonPageSize = 500

// RedisPoisonQueue is the poison queue on Redis Streams: the entries of
// the stream topicPrefix+messagebus.PoisonTopic, which the router's PoisonQueue
// middleware writes in the RedisEntryMarshaller format. A parked message's
// ID is its stream entry ID.
//
// Replay publishes a message back, then deletes its entry (XDEL): a crash
// in between, or two operators replaying the same entry at once, leaves a
// duplicate on the original topic but never loses it (handlers are
// idempotent). Consumer groups reading the poison stream, if any, are not
// disturbed by the deletion.
type RedisPoisonQueue struct {
	client    redis.Cmdable
	publisher message.Publisher
	stream    string
}

// NewRedisPoisonQueue reads the poison stream through client, which the
// caller owns (and closes).
//
// publisher must publish to bare topic names, exactly as the message bus
// does: the service's messagebus.PubSub publisher, that is the one wrapped by
// NewNamespacedPubSub when topicPrefix is set. A message parked from topic T
// is replayed with publisher.Publish(T, ...), which lands on the stream
// topicPrefix+T. topicPrefix (the same one given to NewNamespacedPubSub,
// "" for none) only locates the poison stream.
func NewRedisPoisonQueue(client redis.Cmdable, publisher message.Publisher, topicPrefix string) *RedisPoisonQueue {
	return &RedisPoisonQueue{client: client, publisher: publisher, stream: topicPrefix + messagebus.PoisonTopic}
}

// List returns one page of parked messages, oldest first: one XRANGE
// from the entry after page.After.
func (q *RedisPoisonQueue) List(ctx context.Context, page app.PoisonPage) ([]app.ParkedMessage, error) {
	start := "-"
	if page.After != "" {
		if !validRedisEntryID(page.After) {
			return nil, app.PoisonCursorError{After: page.After}
		}
		start = "(" + page.After
	}
	entries, err := q.client.XRangeN(ctx, q.stream, start, "+", int64(page.EffectiveLimit())).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the poison queue %s: %w", q.stream, err)
	}
	parked := make([]app.ParkedMessage, 0, len(entries))
	for _, e := range entries {
		parked = append(parked, q.parked(e))
	}
	return parked, nil
}

// scan reads the whole stream page by page.
func (q *RedisPoisonQueue) scan(ctx context.Context, each func(app.ParkedMessage)) error {
	start := "-"
	for {
		entries, err := q.client.XRangeN(ctx, q.stream, start, "+", redisPoisonPageSize).Result()
		if err != nil {
			return fmt.Errorf("reading the poison queue %s: %w", q.stream, err)
		}
		for _, e := range entries {
			each(q.parked(e))
		}
		if len(entries) < redisPoisonPageSize {
			return nil
		}
		start = "(" + entries[len(entries)-1].ID
	}
}

// parked decodes one entry of the poison stream.
func (q *RedisPoisonQueue) parked(entry redis.XMessage) app.ParkedMessage {
	// An entry written without a uuid field (by hand) gets the same
	// derived UUID on every read; a malformed one becomes a message marked
	// as such.
	msg := decodeRedisEntry(q.stream, entry)
	parkedAt, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(messagebus.ParkedAtKey))
	if err != nil {
		parkedAt = redisEntryTime(entry.ID)
	}
	return messagebus.ParkedFromMessage(entry.ID, msg, parkedAt)
}

// redisEntryTime is the time in a stream entry ID ("<ms>-<seq>").
func redisEntryTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// validRedisEntryID accepts only complete entry IDs: XRANGE would read
// "5" as every entry of millisecond 5.
func validRedisEntryID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, errMS := strconv.ParseUint(ms, 10, 64)
	_, errSeq := strconv.ParseUint(seq, 10, 64)
	return errMS == nil && errSeq == nil
}

// Replay sends parked messages back to their topics, deleting each from
// the stream once published (messagebus.ReplayParked).
func (q *RedisPoisonQueue) Replay(ctx context.Context, ids []string) ([]string, error) {
	return messagebus.ReplayParked(ctx, ids, q.choose, q.replay)
}

func (q *RedisPoisonQueue) choose(ctx context.Context, ids []string) ([]app.ParkedMessage, error) {
	var chosen []app.ParkedMessage
	if len(ids) == 0 {
		err := q.scan(ctx, func(p app.ParkedMessage) { chosen = append(chosen, p) })
		return chosen, err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if !validRedisEntryID(id) {
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		entries, err := q.client.XRangeN(ctx, q.stream, id, id, 1).Result()
		if err != nil {
			return nil, fmt.Errorf("reading the poison queue %s: %w", q.stream, err)
		}
		if len(entries) == 0 || entries[0].ID != id {
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		chosen = append(chosen, q.parked(entries[0]))
	}
	return chosen, nil
}

// replay publishes first and deletes after: at least once.
func (q *RedisPoisonQueue) replay(ctx context.Context, p app.ParkedMessage) error {
	topic, msg, err := replayTarget(p)
	if err != nil {
		return err
	}
	if err := q.publisher.Publish(topic, msg); err != nil {
		return fmt.Errorf("publishing to %s: %w", topic, err)
	}
	if err := q.client.XDel(ctx, q.stream, p.ID).Err(); err != nil {
		return fmt.Errorf("published to %s but not removed from the poison queue (it will be replayed again): %w", topic, err)
	}
	return nil
}

// replayTarget is messagebus.ReplayMessage, refusing a message without its
// original topic: it would be published to the bare prefix.
func replayTarget(p app.ParkedMessage) (string, *message.Message, error) {
	topic, msg := messagebus.ReplayMessage(p)
	if topic == "" {
		return "", nil, fmt.Errorf("parked message has no original topic (metadata key %s)", middleware.PoisonedTopicKey)
	}
	return topic, msg, nil
}
