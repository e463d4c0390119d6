package pubsub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/internal/groupcommit"
)

// redisSubscriberClient is the Redis client of one redisstream subscriber;
// the subscriber owns it (redisstream closes its client when the subscriber
// closes). It does three things redisstream cannot be configured to do:
//
//   - Tagging: it adds the entry ID and stream of every entry read to the
//     entry's field values (taggedEntryIDField, taggedStreamField), the only
//     way they reach redisstream's Unmarshaller.
//   - Read-ahead: redisstream reads a consumer group with XREADGROUP COUNT 1
//     (hard-coded), one round trip per entry. Here such a read asks for up
//     to readAhead entries and hands them out one per call, so a backlog
//     costs one round trip per readAhead entries.
//   - Deferred acknowledgement: redisstream sends one XACK per handled
//     entry and waits for it. Here XACK is queued and sent in the same
//     pipeline as the next read, or after ackDelay when no read comes, or
//     on Close. An acknowledgement lost in a crash only means the entry is
//     delivered again after MaxIdleTime: delivery stays at least once, and
//     handlers are idempotent.
//
// Entries read ahead are pending for this consumer like the one entry
// redisstream itself keeps ahead; if the process stops before handling
// them they are claimed after MaxIdleTime. An entry that waited in the
// buffer for staleAfter (half of MaxIdleTime) is dropped from it rather
// than handed out: it may be claimed by now (redisstream's claim loop
// claims this consumer's idle entries too), and it will be, once, after
// MaxIdleTime. That happens when handlers are slow for long, as with
// retries while a database is away.
type redisSubscriberClient struct {
	*redis.Client
	readAhead  int64
	ackDelay   time.Duration
	staleAfter time.Duration
	now        func() time.Time
	logger     watermill.LoggerAdapter

	mu       sync.Mutex
	buffered map[readKey][]bufferedEntry
	// fetching marks a read of a key in progress; fetched is signalled when
	// it ends. Subscribers sharing the client wait for it instead of
	// sending reads of their own, so that one read brings what arrived
	// meanwhile for all of them.
	fetching map[readKey]bool
	fetched  *sync.Cond
	waiting  int // reads waiting for another's (tests look)
	acks     map[ackKey][]string
	flushing *time.Timer
	// users is how many subscribers share the client; the last Close
	// closes it.
	users  int
	closed bool
}

type readKey struct{ stream, group, consumer string }

type bufferedEntry struct {
	entry  redis.XMessage
	readAt time.Time
}

// redisReadConfig is how a redisSubscriberClient reads and acknowledges.
type redisReadConfig struct {
	ReadAhead   int64
	AckDelay    time.Duration
	MaxIdleTime time.Duration
}

type ackKey struct{ stream, group string }

const (
	// ackFlushTimeout bounds a deferred XACK sent by the timer or on Close.
	ackFlushTimeout = 5 * time.Second
	// ackRetryDelay spaces attempts to send acknowledgements while Redis
	// cannot be reached.
	ackRetryDelay = time.Second
)

func newRedisSubscriberClient(client *redis.Client, cfg redisReadConfig, logger watermill.LoggerAdapter) *redisSubscriberClient {
	if cfg.ReadAhead < 1 {
		cfg.ReadAhead = 1
	}
	c := &redisSubscriberClient{
		Client:     client,
		readAhead:  cfg.ReadAhead,
		ackDelay:   cfg.AckDelay,
		staleAfter: cfg.MaxIdleTime / 2,
		now:        time.Now,
		logger:     logger,
		buffered:   map[readKey][]bufferedEntry{},
		fetching:   map[readKey]bool{},
		acks:       map[ackKey][]string{},
		users:      1,
	}
	c.fetched = sync.NewCond(&c.mu)
	return c
}

// share sets how many subscribers use the client: each calls Close once,
// and the last Close closes it. Subscribers of one group sharing a client
// share its read-ahead buffer and its queue of acknowledgements.
func (c *redisSubscriberClient) share(users int) {
	c.mu.Lock()
	c.users = users
	c.mu.Unlock()
}

func (c *redisSubscriberClient) XReadGroup(ctx context.Context, a *redis.XReadGroupArgs) *redis.XStreamSliceCmd {
	if a.Count != 1 || len(a.Streams) != 2 || a.Streams[1] != ">" {
		// Not redisstream's read of new entries: as asked.
		cmd := c.Client.XReadGroup(ctx, a)
		tagStreams(cmd.Val())
		return cmd
	}
	key := readKey{stream: a.Streams[0], group: a.Group, consumer: a.Consumer}
	c.mu.Lock()
	for {
		if entry, ok := c.nextBuffered(key); ok {
			c.mu.Unlock()
			return redis.NewXStreamSliceCmdResult([]redis.XStream{{Stream: key.stream, Messages: []redis.XMessage{entry}}}, nil)
		}
		if !c.fetching[key] {
			break
		}
		// Another subscriber's read is out; it ends within BlockTime.
		c.waiting++
		c.fetched.Wait()
		c.waiting--
	}
	c.fetching[key] = true
	acks := c.takeAcks()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.fetching, key)
		c.fetched.Broadcast()
		c.mu.Unlock()
	}()

	args := *a
	args.Count = c.readAhead
	var cmd *redis.XStreamSliceCmd
	if len(acks) == 0 {
		cmd = c.Client.XReadGroup(ctx, &args)
	} else {
		// The read must not block here: the acknowledgements would wait
		// behind it. An empty answer makes redisstream read again, and that
		// read blocks.
		args.Block = -1
		var ackErr error
		cmd, ackErr = c.ackAndRead(ctx, acks, &args)
		c.afterFailedAcks(acks, ackErr)
	}
	streams, err := cmd.Result()
	if err != nil || len(streams) == 0 || len(streams[0].Messages) == 0 {
		return cmd
	}
	tagStreams(streams)
	entries := streams[0].Messages
	if len(entries) > 1 {
		readAt := c.now()
		c.mu.Lock()
		for _, e := range entries[1:] {
			c.buffered[key] = append(c.buffered[key], bufferedEntry{entry: e, readAt: readAt})
		}
		c.mu.Unlock()
	}
	return redis.NewXStreamSliceCmdResult([]redis.XStream{{Stream: streams[0].Stream, Messages: entries[:1]}}, nil)
}

// nextBuffered pops the next entry read ahead for key, dropping stale ones
// (see the type's comment). Callers hold mu.
func (c *redisSubscriberClient) nextBuffered(key readKey) (redis.XMessage, bool) {
	buf := c.buffered[key]
	now := c.now()
	for len(buf) > 0 && c.staleAfter > 0 && now.Sub(buf[0].readAt) >= c.staleAfter {
		buf = buf[1:]
	}
	if len(buf) == 0 {
		delete(c.buffered, key)
		return redis.XMessage{}, false
	}
	c.buffered[key] = buf[1:]
	return buf[0].entry, true
}

// ackAndRead sends the queued acknowledgements and the read in one
// pipeline. It returns the read's command and the first XACK error.
func (c *redisSubscriberClient) ackAndRead(ctx context.Context, acks map[ackKey][]string, args *redis.XReadGroupArgs) (*redis.XStreamSliceCmd, error) {
	pipe := c.Client.Pipeline()
	ackCmds := make([]*redis.IntCmd, 0, len(acks))
	for k, ids := range acks {
		ackCmds = append(ackCmds, pipe.XAck(ctx, k.stream, k.group, ids...))
	}
	read := pipe.XReadGroup(ctx, args)
	_, _ = pipe.Exec(ctx) // errors are read per command below
	for _, ack := range ackCmds {
		if err := ack.Err(); err != nil {
			return read, err
		}
	}
	return read, nil
}

// XAck queues the acknowledgement; see the type's comment.
func (c *redisSubscriberClient) XAck(ctx context.Context, stream, group string, ids ...string) *redis.IntCmd {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.Client.XAck(ctx, stream, group, ids...)
	}
	k := ackKey{stream: stream, group: group}
	c.acks[k] = append(c.acks[k], ids...)
	if c.flushing == nil {
		c.flushing = time.AfterFunc(c.ackDelay, c.flushAcksLater)
	}
	c.mu.Unlock()
	return redis.NewIntResult(int64(len(ids)), nil)
}

// takeAcks empties the queue of acknowledgements. Callers hold mu.
func (c *redisSubscriberClient) takeAcks() map[ackKey][]string {
	if len(c.acks) == 0 {
		return nil
	}
	acks := c.acks
	c.acks = map[ackKey][]string{}
	if c.flushing != nil {
		c.flushing.Stop()
		c.flushing = nil
	}
	return acks
}

// afterFailedAcks decides what becomes of acknowledgements whose sending
// failed with err (nothing to do when err is nil). When Redis could not be
// reached they are queued again, and the timer tries again after
// ackRetryDelay unless a read carries them first. When Redis answered with
// an error (the group or stream was deleted) they are dropped: sending them
// again would fail again, and an entry left pending is only delivered once
// more, after MaxIdleTime.
func (c *redisSubscriberClient) afterFailedAcks(acks map[ackKey][]string, err error) {
	if err == nil {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		c.logger.Error("Redis refused acknowledgements of handled entries; they will be delivered again after MaxIdleTime", err, nil)
		return
	}
	c.logger.Error("Acknowledging handled Redis stream entries failed; retrying", err, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ids := range acks {
		c.acks[k] = append(c.acks[k], ids...)
	}
	if !c.closed && c.flushing == nil && len(c.acks) > 0 {
		c.flushing = time.AfterFunc(max(c.ackDelay, ackRetryDelay), c.flushAcksLater)
	}
}

// flushAcksLater runs on the timer: no read came to carry the queue.
func (c *redisSubscriberClient) flushAcksLater() {
	c.mu.Lock()
	c.flushing = nil
	acks := c.takeAcks()
	c.mu.Unlock()
	c.afterFailedAcks(acks, c.sendAcks(acks))
}

func (c *redisSubscriberClient) sendAcks(acks map[ackKey][]string) error {
	if len(acks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackFlushTimeout)
	defer cancel()
	pipe := c.Client.Pipeline()
	for k, ids := range acks {
		pipe.XAck(ctx, k.stream, k.group, ids...)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Close sends the queued acknowledgements, then closes the client, when
// the last subscriber sharing it closes. Entries read ahead and not handled
// stay pending, to be claimed after MaxIdleTime.
func (c *redisSubscriberClient) Close() error {
	c.mu.Lock()
	if c.users--; c.users > 0 || c.closed {
		// Others still use it; their reads and the timer carry the
		// queued acknowledgements.
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	acks := c.takeAcks()
	c.buffered = map[readKey][]bufferedEntry{}
	c.mu.Unlock()
	if err := c.sendAcks(acks); err != nil {
		n := 0
		for _, ids := range acks {
			n += len(ids)
		}
		c.logger.Error("Acknowledging handled Redis stream entries on close failed; they will be delivered again after MaxIdleTime", err,
			watermill.LogFields{"entries": n})
	}
	return c.Client.Close()
}

func (c *redisSubscriberClient) XClaim(ctx context.Context, a *redis.XClaimArgs) *redis.XMessageSliceCmd {
	cmd := c.Client.XClaim(ctx, a)
	tagEntries(a.Stream, cmd.Val())
	return cmd
}

func tagStreams(streams []redis.XStream) {
	for i := range streams {
		tagEntries(streams[i].Stream, streams[i].Messages)
	}
}

func tagEntries(stream string, entries []redis.XMessage) {
	for i := range entries {
		if entries[i].Values == nil {
			// A claimed entry that was trimmed meanwhile comes without
			// fields; it still becomes a (malformed) message.
			entries[i].Values = map[string]any{}
		}
		entries[i].Values[taggedEntryIDField] = entries[i].ID
		entries[i].Values[taggedStreamField] = stream
	}
}

// groupCommittingClient is the publisher's client: XADDs made at the same
// time by different goroutines (the 4 handlers of a consumer group
// publishing line_allocated, commands being sent) share one pipeline, one
// round trip (groupcommit). Each XADD returns when its pipeline is done,
// with its own result, so Publish means what it meant: the entry is in the
// stream. Its Close does not close the pub/sub's client, which the pub/sub
// closes once.
type groupCommittingClient struct {
	*redis.Client
	adds *groupcommit.Writer[*pendingXAdd]
}

type pendingXAdd struct {
	args *redis.XAddArgs
	id   string
	err  error
}

// xaddTimeout bounds one pipeline of XADDs.
const xaddTimeout = 10 * time.Second

func newGroupCommittingClient(client *redis.Client) groupCommittingClient {
	c := groupCommittingClient{Client: client}
	c.adds = groupcommit.New(xaddTimeout, c.addAll)
	return c
}

func (c groupCommittingClient) XAdd(ctx context.Context, a *redis.XAddArgs) *redis.StringCmd {
	add := &pendingXAdd{args: a}
	if err := c.adds.Do(ctx, add); err != nil {
		return redis.NewStringResult("", err)
	}
	return redis.NewStringResult(add.id, add.err)
}

func (c groupCommittingClient) addAll(ctx context.Context, adds []*pendingXAdd) error {
	pipe := c.Client.Pipeline()
	cmds := make([]*redis.StringCmd, len(adds))
	for i, add := range adds {
		cmds[i] = pipe.XAdd(ctx, add.args)
	}
	// Each XADD gets its own result; none fails because another did (the
	// batch is never retried as a whole, which would add the others twice).
	_, _ = pipe.Exec(ctx)
	for i, add := range adds {
		add.id, add.err = cmds[i].Result()
	}
	return nil
}

func (groupCommittingClient) Close() error { return nil }
