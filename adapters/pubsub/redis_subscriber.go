package pubsub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// redisGroupCreateTimeout bounds creating the consumer group at Subscribe;
// when Redis does not answer in time the subscription creates it later.
const redisGroupCreateTimeout = 5 * time.Second

// redisClaimBatch is how many idle entries one XAUTOCLAIM takes at most.
const redisClaimBatch = 100

// redisSubscriberConfig is how a RedisStreamSubscriber reads; see
// RedisStreamsConfig for the meaning of each duration.
type redisSubscriberConfig struct {
	Group    string
	Consumer string
	// Handlers is how many messages a subscription hands out at once
	// before the first is acknowledged: 1 keeps stream order.
	Handlers        int
	ReadAhead       int64
	BlockTime       time.Duration
	ClaimInterval   time.Duration
	MaxIdleTime     time.Duration
	NackResendSleep time.Duration
	AckDelay        time.Duration
}

// RedisStreamSubscriber is one consumer of a Redis consumer group, a
// message.Subscriber: every subscription (one per topic, that is stream)
// creates the stream and group if missing, reads up to ReadAhead new
// entries per XREADGROUP, hands them out in stream order, Handlers at a
// time, acknowledges handled ones in batches (redisAckQueue), claims
// entries other consumers left idle for MaxIdleTime (XAUTOCLAIM), and
// recreates the group whenever Redis answers NOGROUP (redisGroupStartID
// says where it starts). Each message carries its entry ID
// (RedisEntryIDMetadataKey). A nacked message is handed out again after
// NackResendSleep. The subscriber owns its Redis client and closes it.
type RedisStreamSubscriber struct {
	cfg    redisSubscriberConfig
	client *redis.Client
	logger watermill.LoggerAdapter
	outage *redisOutageLog
	groups *redisSubscribedGroups
	acks   *redisAckQueue
	held   *redisEntriesHeld

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	// handlers counts the goroutines that hand messages out (and queue
	// their acknowledgements); running counts subscriptions.
	handlers sync.WaitGroup
	running  sync.WaitGroup
}

func newRedisStreamSubscriber(client *redis.Client, cfg redisSubscriberConfig, logger watermill.LoggerAdapter, outage *redisOutageLog, groups *redisSubscribedGroups) *RedisStreamSubscriber {
	cfg.Handlers = max(cfg.Handlers, 1)
	cfg.ReadAhead = max(cfg.ReadAhead, 1)
	return &RedisStreamSubscriber{
		cfg:     cfg,
		client:  client,
		logger:  logger,
		outage:  outage,
		groups:  groups,
		acks:    newRedisAckQueue(client, cfg.AckDelay, logger, outage),
		held:    newRedisEntriesHeld(),
		closing: make(chan struct{}),
	}
}

// Subscribe reads the stream named topic until ctx ends or the subscriber
// closes. Redis being away does not fail it: the subscription retries, and
// creates the group once Redis answers. Redis refusing to create the group
// (the key is not a stream) does.
func (s *RedisStreamSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ClosedError{}
	}
	s.running.Add(1)
	s.handlers.Add(s.cfg.Handlers)
	s.mu.Unlock()

	createCtx, cancel := context.WithTimeout(ctx, redisGroupCreateTimeout)
	err := createRedisGroup(createCtx, s.client, topic, s.cfg.Group)
	cancel()
	var reply redis.Error
	if errors.As(err, &reply) {
		s.handlers.Add(-s.cfg.Handlers)
		s.running.Done()
		return nil, err
	}
	if err != nil {
		s.outage.failed("creating consumer group "+s.cfg.Group+" of "+topic, err)
	}
	sub := &redisSubscription{s: s, stream: topic, out: make(chan *message.Message), fields: watermill.LogFields{
		"stream": topic, "consumer_group": s.cfg.Group, "consumer": s.cfg.Consumer,
	}}
	go sub.run(ctx)
	return sub.out, nil
}

// Close ends every subscription: their channels close, messages not
// acknowledged stay pending (delivered again after MaxIdleTime, or at once
// to a new subscription of this subscriber), acknowledged ones are sent.
func (s *RedisStreamSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.handlers.Wait() // no acknowledgement is queued after this
	s.acks.close()
	// Closing the client ends reads blocked in Redis, which go-redis
	// cannot cancel otherwise.
	err := s.client.Close()
	s.running.Wait()
	return err
}

// redisSubscription is one Subscribe of a RedisStreamSubscriber: a reader
// and a claimer hand entries to Handlers goroutines, which turn them into
// messages and wait for each to be acknowledged.
type redisSubscription struct {
	s      *RedisStreamSubscriber
	stream string
	out    chan *message.Message
	fields watermill.LogFields
}

// redisHandout is an entry on its way to a handler, with when it was read.
type redisHandout struct {
	entry  redis.XMessage
	readAt time.Time
}

func (r *redisSubscription) run(parent context.Context) {
	defer r.s.running.Done()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	go func() {
		select {
		case <-r.s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	r.s.groups.add(r.stream, r.s.cfg.Group)
	defer r.s.groups.remove(r.stream, r.s.cfg.Group)

	handouts := make(chan redisHandout)
	var wg sync.WaitGroup
	for range r.s.cfg.Handlers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.s.handlers.Done()
			r.handle(ctx, handouts)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.claimLoop(ctx, handouts)
	}()
	r.readLoop(ctx, handouts)
	cancel()
	wg.Wait()
	close(r.out)
}

// readLoop reads new entries until ctx ends, first those this consumer
// was given before and did not acknowledge (an earlier subscription of this
// subscriber that ended).
func (r *redisSubscription) readLoop(ctx context.Context, handouts chan<- redisHandout) {
	r.readOwnPending(ctx, handouts)
	for attempt := 0; ctx.Err() == nil; {
		entries, err := r.read(ctx, ">")
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.recover(ctx, err, attempt)
			attempt++
			continue
		}
		attempt = 0
		r.s.outage.succeeded()
		r.handOut(ctx, handouts, entries)
	}
}

func (r *redisSubscription) readOwnPending(ctx context.Context, handouts chan<- redisHandout) {
	for after := "0"; ctx.Err() == nil; {
		entries, err := r.read(ctx, after)
		if err != nil || len(entries) == 0 {
			// On an error the claimer takes them after MaxIdleTime.
			return
		}
		r.handOut(ctx, handouts, entries)
		after = entries[len(entries)-1].ID
	}
}

// read is one XREADGROUP of up to ReadAhead entries after the given ID
// (">": new entries, blocking up to BlockTime), carrying the queued
// acknowledgements in the same round trip.
func (r *redisSubscription) read(ctx context.Context, after string) ([]redis.XMessage, error) {
	cfg := r.s.cfg
	args := &redis.XReadGroupArgs{
		Group: cfg.Group, Consumer: cfg.Consumer, Streams: []string{r.stream, after},
		Count: cfg.ReadAhead, Block: cfg.BlockTime,
	}
	if after != ">" {
		args.Block = -1 // reading history never blocks
	}
	// go-redis cannot cancel a command under way; Close closes the client.
	ctx = context.WithoutCancel(ctx)
	var cmd *redis.XStreamSliceCmd
	if acks := r.s.acks.take(); len(acks) == 0 {
		cmd = r.s.client.XReadGroup(ctx, args)
	} else {
		// Not blocking: the acknowledgements' replies would wait behind
		// the read. An empty answer makes the next read block.
		args.Block = -1
		pipe := r.s.client.Pipeline()
		ackCmds := queueAcks(ctx, pipe, acks)
		cmd = pipe.XReadGroup(ctx, args)
		_, _ = pipe.Exec(ctx) // each command's result is read below
		r.s.acks.sent(acks, ackCmds)
	}
	streams, err := cmd.Result()
	if errors.Is(err, redis.Nil) || (err == nil && len(streams) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return streams[0].Messages, nil
}

// recover handles a failed read: a missing group is created again at
// once; anything else is retried after a pause that grows with attempt.
func (r *redisSubscription) recover(ctx context.Context, err error, attempt int) {
	if redisGroupMissing(err) {
		createErr := createRedisGroup(ctx, r.s.client, r.stream, r.s.cfg.Group)
		if createErr == nil {
			r.s.outage.note("Redis had lost the consumer group; recreated it, resuming", r.fields)
			return
		}
		err = createErr
	}
	r.s.outage.failed("reading "+r.stream+" as "+r.s.cfg.Group, err)
	sleepCtx(ctx, retryDelay(attempt))
}

// handOut gives entries to the handlers, in order, skipping those this
// subscriber already holds.
func (r *redisSubscription) handOut(ctx context.Context, handouts chan<- redisHandout, entries []redis.XMessage) {
	readAt := time.Now()
	for _, e := range entries {
		if !r.s.held.hold(r.stream, e.ID) {
			continue
		}
		select {
		case handouts <- redisHandout{entry: e, readAt: readAt}:
		case <-ctx.Done():
			r.s.held.release(r.stream, e.ID)
			return
		}
	}
}

// claimLoop takes over, every ClaimInterval, the entries of the group
// that a consumer (a dead process, or this one for entries it gave up)
// left unacknowledged for MaxIdleTime.
func (r *redisSubscription) claimLoop(ctx context.Context, handouts chan<- redisHandout) {
	tick := time.NewTicker(r.s.cfg.ClaimInterval)
	defer tick.Stop()
	for {
		r.claimIdle(ctx, handouts)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *redisSubscription) claimIdle(ctx context.Context, handouts chan<- redisHandout) {
	cfg := r.s.cfg
	for start := "0-0"; ctx.Err() == nil; {
		entries, next, err := r.s.client.XAutoClaim(context.WithoutCancel(ctx), &redis.XAutoClaimArgs{
			Stream: r.stream, Group: cfg.Group, Consumer: cfg.Consumer,
			MinIdle: cfg.MaxIdleTime, Start: start, Count: redisClaimBatch,
		}).Result()
		if err != nil {
			// A missing group is the reader's to recreate.
			if ctx.Err() == nil && !redisGroupMissing(err) {
				r.s.outage.failed("claiming idle entries of "+r.stream, err)
			}
			return
		}
		r.handOut(ctx, handouts, entries)
		if next == "" || next == "0-0" {
			return
		}
		start = next
	}
}

// handle hands out entries one at a time until ctx ends.
func (r *redisSubscription) handle(ctx context.Context, handouts <-chan redisHandout) {
	staleAfter := r.s.cfg.MaxIdleTime / 2
	for {
		select {
		case h := <-handouts:
			if staleAfter > 0 && time.Since(h.readAt) >= staleAfter {
				// It may have been claimed by another consumer meanwhile;
				// left pending, it is claimed once, after MaxIdleTime.
				r.s.held.release(r.stream, h.entry.ID)
				continue
			}
			r.deliver(ctx, h.entry)
			r.s.held.release(r.stream, h.entry.ID)
		case <-ctx.Done():
			return
		}
	}
}

// deliver sends the entry's message and waits for its acknowledgement;
// a nack sends it again after NackResendSleep.
func (r *redisSubscription) deliver(ctx context.Context, entry redis.XMessage) {
	if len(entry.Values) == 0 {
		// Deleted from the stream while pending: nothing to hand over.
		r.s.acks.add(r.stream, r.s.cfg.Group, entry.ID)
		return
	}
	msg := decodeRedisEntry(r.stream, entry)
	for {
		msgCtx, cancel := context.WithCancel(ctx)
		msg.SetContext(msgCtx)
		select {
		case r.out <- msg:
		case <-ctx.Done():
			cancel()
			return
		}
		select {
		case <-msg.Acked():
			cancel()
			r.s.acks.add(r.stream, r.s.cfg.Group, entry.ID)
			return
		case <-msg.Nacked():
			cancel()
			// The router nacks when even the poison queue could not take
			// the message (Redis away): sending it again at once would spin.
			if !sleepCtx(ctx, r.s.cfg.NackResendSleep) {
				return
			}
			msg = msg.Copy()
		case <-ctx.Done():
			cancel()
			return
		}
	}
}

// sleepCtx waits d, or less when ctx ends; it tells whether ctx is alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
