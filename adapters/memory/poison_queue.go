package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
	"allocation/app"
)

// DefaultPoisonCapacity bounds the in-memory poison queue; the oldest
// parked messages are dropped beyond it (and counted as dropped).
const DefaultPoisonCapacity = 10000

// PoisonQueue keeps the messages parked on the in-memory broker, which
// would otherwise drop them: nobody else subscribes to the poison topic.
type PoisonQueue struct {
	publisher message.Publisher
	capacity  int

	mu      sync.Mutex
	parked  []app.ParkedMessage
	nextID  int
	dropped int
}

// NewPoisonQueue subscribes to the poison topic at once, so that nothing
// parked after it returns is missed, and keeps collecting until ctx ends.
func NewPoisonQueue(ctx context.Context, sub message.Subscriber, pub message.Publisher, capacity int) (*PoisonQueue, error) {
	messages, err := sub.Subscribe(ctx, messagebus.PoisonTopic)
	if err != nil {
		return nil, fmt.Errorf("subscribing to the poison queue: %w", err)
	}
	q := &PoisonQueue{publisher: pub, capacity: capacity}
	go func() {
		for msg := range messages {
			q.park(msg)
			msg.Ack()
		}
	}()
	return q, nil
}

func (q *PoisonQueue) park(msg *message.Message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nextID++
	parkedAt, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(messagebus.ParkedAtKey))
	if err != nil {
		parkedAt = time.Now().UTC()
	}
	q.parked = append(q.parked, messagebus.ParkedFromMessage(strconv.Itoa(q.nextID), msg, parkedAt))
	if len(q.parked) > q.capacity {
		q.dropped += len(q.parked) - q.capacity
		q.parked = slices.Delete(q.parked, 0, len(q.parked)-q.capacity)
	}
}

// List returns one page of parked messages, oldest first. IDs are
// increasing integers, so a page starts after the first ID greater than
// page.After, whether or not that message is still parked.
func (q *PoisonQueue) List(_ context.Context, page app.PoisonPage) ([]app.ParkedMessage, error) {
	after := 0
	if page.After != "" {
		n, err := strconv.Atoi(page.After)
		if err != nil || n < 0 {
			return nil, app.PoisonCursorError{After: page.After}
		}
		after = n
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	start, _ := slices.BinarySearchFunc(q.parked, after, func(p app.ParkedMessage, after int) int {
		id, _ := strconv.Atoi(p.ID)
		return cmp.Compare(id, after+1)
	})
	end := min(len(q.parked), start+page.EffectiveLimit())
	return slices.Clone(q.parked[start:end]), nil
}

// Dropped tells how many parked messages the capacity pushed out.
func (q *PoisonQueue) Dropped() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

func (q *PoisonQueue) Replay(_ context.Context, ids []string) ([]string, error) {
	q.mu.Lock()
	var chosen []app.ParkedMessage
	if len(ids) == 0 {
		chosen = slices.Clone(q.parked)
	}
	for _, id := range ids {
		i := slices.IndexFunc(q.parked, func(p app.ParkedMessage) bool { return p.ID == id })
		if i < 0 {
			q.mu.Unlock()
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		chosen = append(chosen, q.parked[i])
	}
	q.mu.Unlock()

	var replayed []string
	var errs []error
	for _, p := range chosen {
		topic, msg := messagebus.ReplayMessage(p)
		if err := q.publisher.Publish(topic, msg); err != nil {
			errs = append(errs, fmt.Errorf("replaying %s: %w", p.ID, err))
			continue
		}
		q.remove(p.ID)
		replayed = append(replayed, p.ID)
	}
	return replayed, errors.Join(errs...)
}

func (q *PoisonQueue) remove(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.parked = slices.DeleteFunc(q.parked, func(p app.ParkedMessage) bool { return p.ID == id })
}
