package pubsub

import "sync"

// redisEntriesHeld is the set of entries a subscriber holds (read and not
// yet acknowledged or given up), by stream and ID. A claim of idle entries
// or a read of this consumer's pending entries finds them too; they are
// handed out once, not again while they are being handled.
type redisEntriesHeld struct {
	mu   sync.Mutex
	held map[string]bool
}

func newRedisEntriesHeld() *redisEntriesHeld {
	return &redisEntriesHeld{held: map[string]bool{}}
}

// hold records the entry and tells whether it was not held already.
func (h *redisEntriesHeld) hold(stream, id string) bool {
	key := stream + "\x00" + id
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held[key] {
		return false
	}
	h.held[key] = true
	return true
}

func (h *redisEntriesHeld) release(stream, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.held, stream+"\x00"+id)
}
