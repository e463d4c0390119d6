package postgres

import (
	"context"
	"sync"
	"time"
)

// groupCommit gathers concurrent writes into one statement and one commit.
// A write joins the queue; when no batch is being written, a writer
// goroutine starts and writes what has gathered, again and again until the
// queue is empty. Nothing waits for company: a lone write goes at once, and
// writes arriving while a batch is out go together in the next one. Each
// caller returns when the batch holding its write is done.
//
// Why: the read model's handlers (4 at a time per consumer group) each
// wrote one row in a transaction of its own; PostgreSQL's cost per commit
// and per round trip, not per row, dominated (BENCHMARKS.md).
//
// If a batch of several fails, each of its writes is tried alone, so that
// one bad write cannot fail the others (which would be retried and, in the
// end, parked with it).
type groupCommit[T any] struct {
	write   func(ctx context.Context, items []T) error
	timeout time.Duration

	mu      sync.Mutex
	queue   []groupCommitWrite[T]
	writing bool
}

type groupCommitWrite[T any] struct {
	item T
	done chan error
}

func newGroupCommit[T any](timeout time.Duration, write func(ctx context.Context, items []T) error) *groupCommit[T] {
	return &groupCommit[T]{write: write, timeout: timeout}
}

// Do writes item with whatever else is waiting. If ctx ends first Do
// returns its error; the write may still happen (writes are idempotent).
func (g *groupCommit[T]) Do(ctx context.Context, item T) error {
	w := groupCommitWrite[T]{item: item, done: make(chan error, 1)}
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
func (g *groupCommit[T]) writeAll() {
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

func (g *groupCommit[T]) writeBatch(batch []groupCommitWrite[T]) {
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

func (g *groupCommit[T]) writeWithTimeout(items []T) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	return g.write(ctx, items)
}
