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
