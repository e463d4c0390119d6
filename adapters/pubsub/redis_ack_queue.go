package pubsub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"
)

const (
	// ackFlushTimeout bounds one XACK pipeline sent by the timer or on Close.
	ackFlushTimeout = 5 * time.Second
	// ackRetryDelay spaces attempts to send acknowledgements while Redis
	// cannot be reached.
	ackRetryDelay = time.Second
)

type ackKey struct{ stream, group string }

// redisAckQueue holds the acknowledgements of handled entries until they
// are sent: with the subscriber's next read (take), after delay when no
// read comes (the timer), or on close. One XACK per entry, waited for,
// would cost a round trip per message. An acknowledgement lost in a crash
// only means the entry is delivered again after MaxIdleTime: delivery stays
// at least once, and handlers are idempotent.
type redisAckQueue struct {
	client *redis.Client
	delay  time.Duration
	logger watermill.LoggerAdapter
	outage *redisOutageLog

	mu      sync.Mutex
	pending map[ackKey][]string
	timer   *time.Timer
	closed  bool
}

func newRedisAckQueue(client *redis.Client, delay time.Duration, logger watermill.LoggerAdapter, outage *redisOutageLog) *redisAckQueue {
	return &redisAckQueue{client: client, delay: delay, logger: logger, outage: outage, pending: map[ackKey][]string{}}
}

// add queues the acknowledgement of one entry.
func (q *redisAckQueue) add(stream, group, id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := ackKey{stream: stream, group: group}
	q.pending[k] = append(q.pending[k], id)
	if q.timer == nil && !q.closed {
		q.timer = time.AfterFunc(q.delay, q.flushLater)
	}
}

// take empties the queue, for a read to carry.
func (q *redisAckQueue) take() map[ackKey][]string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

func (q *redisAckQueue) takeLocked() map[ackKey][]string {
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	if len(q.pending) == 0 {
		return nil
	}
	acks := q.pending
	q.pending = map[ackKey][]string{}
	return acks
}

// queueAcks adds XACKs for acks to a pipeline; sent then reads how they went.
func queueAcks(ctx context.Context, pipe redis.Pipeliner, acks map[ackKey][]string) []*redis.IntCmd {
	cmds := make([]*redis.IntCmd, 0, len(acks))
	for k, ids := range acks {
		cmds = append(cmds, pipe.XAck(ctx, k.stream, k.group, ids...))
	}
	return cmds
}

// sent looks at the XACKs of acks after their pipeline ran. When Redis
// could not be reached they are queued again, for the next read or the
// timer after ackRetryDelay. When Redis answered with an error (the group
// or stream is gone, as after a restart that lost it) they are dropped:
// sending them again would fail again, and the entries are gone with the
// group.
func (q *redisAckQueue) sent(acks map[ackKey][]string, cmds []*redis.IntCmd) {
	var err error
	for _, c := range cmds {
		if err = c.Err(); err != nil {
			break
		}
	}
	if err == nil {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		q.logger.Info("Redis refused acknowledgements of handled entries (their group is gone)",
			watermill.LogFields{"error": err.Error()})
		return
	}
	q.outage.failed("acknowledging handled entries", err)
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, ids := range acks {
		q.pending[k] = append(q.pending[k], ids...)
	}
	if !q.closed && q.timer == nil {
		q.timer = time.AfterFunc(max(q.delay, ackRetryDelay), q.flushLater)
	}
}

// flushLater runs on the timer: no read came to carry the queue.
func (q *redisAckQueue) flushLater() {
	q.mu.Lock()
	acks := q.takeLocked()
	q.mu.Unlock()
	q.send(acks)
}

func (q *redisAckQueue) send(acks map[ackKey][]string) {
	if len(acks) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackFlushTimeout)
	defer cancel()
	pipe := q.client.Pipeline()
	cmds := queueAcks(ctx, pipe, acks)
	_, _ = pipe.Exec(ctx) // each XACK's result is read by sent
	q.sent(acks, cmds)
}

// close sends what is queued, once; later acknowledgements are not sent
// (the entries are delivered again after MaxIdleTime).
func (q *redisAckQueue) close() {
	q.mu.Lock()
	q.closed = true
	acks := q.takeLocked()
	q.mu.Unlock()
	q.send(acks)
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := countAcks(q.pending); n > 0 {
		q.logger.Error("Acknowledgements of handled entries could not be sent on close; they will be delivered again after MaxIdleTime",
			nil, watermill.LogFields{"entries": n})
	}
	q.pending = map[ackKey][]string{}
}

func countAcks(acks map[ackKey][]string) int {
	n := 0
	for _, ids := range acks {
		n += len(ids)
	}
	return n
}
