package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"allocation/internal/workerpool"
)

// ProductQueue runs the commands of one product one burst at a time, in
// arrival order (a single writer per product, as in LMAX-style designs and
// Axon's disruptor command bus). Commands that arrive while a burst runs
// wait and form the next burst, so a hot product gets one transaction per
// burst instead of one per command, and two commands of this process never
// conflict. Different products run in parallel.
type ProductQueue struct {
	runBurst func(key productKey, burst []*queuedCommand)
	maxBurst int
	workers  *workerpool.Pool[func()] // bursts run on goroutines whose stacks have grown

	mu      sync.Mutex
	waiting map[productKey][]*queuedCommand // present while the key's worker runs
	closed  bool
	running sync.WaitGroup // one per key whose worker runs
}

// productKey names the product a command is for: by sku, or by the
// reference of one of its batches when that is all the command knows.
type productKey struct {
	sku      string
	batchRef string
}

// queuedCommand is one sender's command and, once its burst committed (or
// failed), its result.
type queuedCommand struct {
	ctx      context.Context // the sender's, without its cancellation
	cmd      productCommand
	batchRef string
	err      error
	done     chan struct{}
}

// maxBurst bounds a burst, and so a transaction: enough to take every
// waiting sender of a hot product at once, few enough that one burst's
// lines fit in one statement.
const maxBurst = 256

// NewProductQueue runs the commands of each product in bursts, each burst
// in one transaction of tx, bounded by timeout (0: no bound).
func NewProductQueue(tx TransactionRunner, timeout ...time.Duration) *ProductQueue {
	runner := burstRunner{tx: tx}
	if len(timeout) > 0 {
		runner.timeout = timeout[0]
	}
	return newProductQueue(maxBurst, runner.run)
}

func newProductQueue(maxBurst int, runBurst func(productKey, []*queuedCommand)) *ProductQueue {
	return &ProductQueue{runBurst: runBurst, maxBurst: maxBurst, workers: workerpool.New(0, 10*time.Second, func(burst func()) { burst() }),
		waiting: map[productKey][]*queuedCommand{}}
}

// run queues cmd behind the product's other commands and waits for its
// result. A sender that gives up (ctx done) before its burst starts is
// taken out of the queue; once its burst has started the burst goes on
// without it, so its neighbours are not affected.
func (q *ProductQueue) run(ctx context.Context, key productKey, cmd productCommand) (batchRef string, err error) {
	ctx, span := startCommandSpan(ctx, key, cmd)
	defer func() { endSpan(span, err) }()
	c := &queuedCommand{ctx: context.WithoutCancel(ctx), cmd: cmd, done: make(chan struct{})}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return "", ShuttingDownError{}
	}
	queue, running := q.waiting[key]
	q.waiting[key] = append(queue, c)
	if !running {
		q.running.Add(1)
		q.workers.Go(func() { q.work(key) })
	}
	q.mu.Unlock()

	select {
	case <-c.done:
		return c.batchRef, c.err
	case <-ctx.Done():
		q.withdraw(key, c)
		return "", ctx.Err()
	}
}

// withdraw removes a command that has not started yet; one already in a
// running burst stays there.
func (q *ProductQueue) withdraw(key productKey, c *queuedCommand) {
	q.mu.Lock()
	defer q.mu.Unlock()
	queue := q.waiting[key]
	for i, queued := range queue {
		if queued == c {
			q.waiting[key] = append(queue[:i:i], queue[i+1:]...)
			return
		}
	}
}

// work runs the key's bursts until nothing waits, then ends: an idle
// product costs no goroutine.
func (q *ProductQueue) work(key productKey) {
	defer q.running.Done()
	for {
		q.mu.Lock()
		queue := q.waiting[key]
		if len(queue) == 0 {
			delete(q.waiting, key)
			q.mu.Unlock()
			return
		}
		n := min(len(queue), q.maxBurst)
		burst := queue[:n:n]
		q.waiting[key] = queue[n:]
		q.mu.Unlock()

		q.runBurst(key, burst)
		for _, c := range burst {
			close(c.done)
		}
	}
}

// Close refuses new commands and waits, up to ctx, until every queued one
// has run.
func (q *ProductQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	drained := make(chan struct{})
	go func() {
		q.running.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("commands still running at shutdown"), ctx.Err())
	}
}
