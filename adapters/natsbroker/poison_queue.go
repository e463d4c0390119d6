package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"allocation/adapters/messagebus"
	"allocation/app"
)

// PoisonQueue is the poison queue on JetStream: the messages of the
// stream of topicPrefix+messagebus.PoisonTopic, which the router's
// PoisonQueue middleware publishes. A parked message's ID is its stream
// sequence, in decimal.
//
// Replay publishes a message back, then deletes it from the stream: a
// crash in between leaves it parked, and replaying it again is dropped by
// the duplicate window (its Nats-Msg-Id names the parked entry), so within
// that window it is neither lost nor duplicated.
type PoisonQueue struct {
	js        jetstream.JetStream
	publisher message.Publisher
	subject   string
	stream    string
}

// NewPoisonQueue reads the poison stream through conn (PubSub.Conn), which
// the caller owns.
//
// publisher must publish to bare topic names, as the message bus does
// (the namespaced publisher when topicPrefix is set): a message parked
// from topic T is replayed with publisher.Publish(T, ...). topicPrefix
// ("" for none) only locates the poison stream.
func NewPoisonQueue(conn *nats.Conn, publisher message.Publisher, topicPrefix string) (*PoisonQueue, error) {
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, fmt.Errorf("nats poison queue: %w", err)
	}
	subject := topicPrefix + messagebus.PoisonTopic
	return &PoisonQueue{js: js, publisher: publisher, subject: subject, stream: StreamName(subject)}, nil
}

// List returns one page of parked messages, oldest first. Before anything
// was ever parked the stream does not exist, and the list is empty.
func (q *PoisonQueue) List(ctx context.Context, page app.PoisonPage) ([]app.ParkedMessage, error) {
	after := uint64(0)
	if page.After != "" {
		n, err := strconv.ParseUint(page.After, 10, 64)
		if err != nil {
			return nil, app.PoisonCursorError{After: page.After}
		}
		after = n
	}
	return q.read(ctx, after+1, page.EffectiveLimit())
}

// read returns up to limit parked messages from sequence from on (all
// when limit is 0), one request per message.
func (q *PoisonQueue) read(ctx context.Context, from uint64, limit int) ([]app.ParkedMessage, error) {
	stream, err := q.js.Stream(ctx, q.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the poison queue %s: %w", q.stream, err)
	}
	var parked []app.ParkedMessage
	for seq := from; limit == 0 || len(parked) < limit; {
		raw, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(q.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the poison queue %s: %w", q.stream, err)
		}
		parked = append(parked, q.parked(raw))
		seq = raw.Sequence + 1
	}
	return parked, nil
}

func (q *PoisonQueue) parked(raw *jetstream.RawStreamMsg) app.ParkedMessage {
	msg := decode(nats.Header(raw.Header), raw.Data, q.stream, raw.Sequence)
	parkedAt, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(messagebus.ParkedAtKey))
	if err != nil {
		parkedAt = raw.Time.UTC()
	}
	return messagebus.ParkedFromMessage(strconv.FormatUint(raw.Sequence, 10), msg, parkedAt)
}

// Replay sends the given parked messages (all when ids is empty) back to
// their topics and deletes them from the stream. Unknown ids fail the call
// before anything is replayed. A message that cannot be published stays
// parked; the others are still replayed, and the errors are joined.
func (q *PoisonQueue) Replay(ctx context.Context, ids []string) ([]string, error) {
	return messagebus.ReplayParked(ctx, ids, q.choose, q.replay)
}

func (q *PoisonQueue) choose(ctx context.Context, ids []string) ([]app.ParkedMessage, error) {
	if len(ids) == 0 {
		return q.read(ctx, 1, 0)
	}
	var chosen []app.ParkedMessage
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		seq, err := strconv.ParseUint(id, 10, 64)
		if err != nil || seq == 0 || strconv.FormatUint(seq, 10) != id {
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		found, err := q.read(ctx, seq, 1)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 || found[0].ID != id {
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		chosen = append(chosen, found[0])
	}
	return chosen, nil
}

// replay publishes first and deletes after: at least once.
func (q *PoisonQueue) replay(ctx context.Context, p app.ParkedMessage) error {
	topic, msg := messagebus.ReplayMessage(p)
	if topic == "" {
		return fmt.Errorf("parked message has no original topic (metadata key %s)", middleware.PoisonedTopicKey)
	}
	msg.Metadata.Set(ReplayOfKey, q.stream+"/"+p.ID)
	if err := q.publisher.Publish(topic, msg); err != nil {
		return fmt.Errorf("publishing to %s: %w", topic, err)
	}
	seq, _ := strconv.ParseUint(p.ID, 10, 64) // an ID read from the stream
	stream, err := q.js.Stream(ctx, q.stream)
	if err == nil {
		err = stream.DeleteMsg(ctx, seq)
	}
	if err != nil {
		return fmt.Errorf("published to %s but not removed from the poison queue (it will be replayed again): %w", topic, err)
	}
	return nil
}
