package memory

import (
	"context"
	"sync"
)

// DefaultHandledEventsCapacity bounds how many handled events are kept;
// redeliveries come soon after the first delivery, so the recent ones are
// what matters.
const DefaultHandledEventsCapacity = 100000

// HandledEvents is a bounded in-memory app.HandledEvents: the oldest
// entries are forgotten first.
type HandledEvents struct {
	mu       sync.Mutex
	capacity int
	seen     map[string]struct{}
	order    []string
}

func NewHandledEvents(capacity int) *HandledEvents {
	return &HandledEvents{capacity: capacity, seen: map[string]struct{}{}}
}

func handledKey(handler, eventID string) string { return handler + "\x00" + eventID }

func (h *HandledEvents) Handled(_ context.Context, handler, eventID string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.seen[handledKey(handler, eventID)]
	return ok, nil
}

func (h *HandledEvents) MarkHandled(_ context.Context, handler, eventID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := handledKey(handler, eventID)
	if _, ok := h.seen[key]; ok {
		return nil
	}
	h.seen[key] = struct{}{}
	h.order = append(h.order, key)
	if len(h.order) > h.capacity {
		delete(h.seen, h.order[0])
		h.order = h.order[1:]
	}
	return nil
}
