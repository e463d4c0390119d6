// Package pending keeps what a pipelined publisher has queued or sent
// until its Flush takes it.
package pending

import "sync"

// List is safe for concurrent Add and Take.
type List[T any] struct {
	mu    sync.Mutex
	items []T
}

// Add appends items.
func (l *List[T]) Add(items ...T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, items...)
}

// Take empties the list and returns what it held, in the order added.
func (l *List[T]) Take() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	items := l.items
	l.items = nil
	return items
}
