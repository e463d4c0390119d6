// Package groupcommit gathers concurrent writes into one round trip.
package groupcommit

import (
	"context"
	"sync"
	"time"
)

// Writer gathers concurrent writes into one batch: one statement and one
// commit for a database, one pipeline for Redis.
// A write joins the queue; when no batch is being written, a writer
// goroutine starts and writes what has gathered, again and again until the
// queue is empty. Nothing waits for company: a lone write goes at once, and
// writes arriving while a batch is out go together in the next one. Each
// caller returns when the batch holding its write is done.
//
// Why: concurrent event handlers each paid a round trip and a commit of
// their own, and that cost, not the rows, dominated.
//
// If a batch of several fails, each of its writes is tried alone, so that
// one bad write cannot fail the others (which would be retried and, in the
// end, parked with it).
type Writer[T any] struct {
	write   func(ctx context.Context, items []T) error
	timeout time.Duration

	mu      sync.Mutex
	queue   []pendingWrite[T]
	writing bool
}

type pendingWrite[T any] struct {
	item T
	done chan error
}

// New returns a Writer that writes batches with write, each within timeout.
// write may set results on the items (pointers) before it returns.
func New[T any](timeout time.Duration, write func(ctx context.Context, items []T) error) *Writer[T] {
	return &Writer[T]{write: write, timeout: timeout}
}

// Do writes item with whatever else is waiting. If ctx ends first Do
// returns its error; the write may still happen (writes are idempotent).
func (g *Writer[T]) Do(ctx context.Context, item T) error {
	w := pendingWrite[T]{item: item, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if !g.writing {
		g.writing = true
		go g.writeAll()
	}
	g.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeAll writes batches until the queue is empty.
func (g *Writer[T]) writeAll() {
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.writing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.writeBatch(batch)
	}
}

func (g *Writer[T]) writeBatch(batch []pendingWrite[T]) {
	items := make([]T, len(batch))
	for i, w := range batch {
		items[i] = w.item
	}
	err := g.writeWithTimeout(items)
	if err == nil || len(batch) == 1 {
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	for _, w := range batch {
		w.done <- g.writeWithTimeout([]T{w.item})
	}
}

func (g *Writer[T]) writeWithTimeout(items []T) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	return g.write(ctx, items)
}
