package pubsub

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// RedisStreamsConfig configures RedisStreamsPubSub. Zero durations take
// the defaults below.
type RedisStreamsConfig struct {
	// Redis is the connection template (at least Addr). The publisher
	// gets one client made from it and every subscriber its own: a
	// subscriber closes its client on Close, which is how it ends reads
	// blocked in Redis, and keeps connections busy in blocking reads.
	Redis redis.Options
	// ConsumerName identifies this process within every consumer group.
	// It must differ between processes, or their pending entries mix up;
	// empty means DefaultConsumerName().
	ConsumerName string
	// MaxIdleTime is how long an entry delivered to a consumer may stay
	// unacknowledged before another consumer of the group claims it.
	// Default DefaultRedisMaxIdleTime.
	MaxIdleTime time.Duration
	// ClaimInterval is how often each subscriber looks for such entries.
	// Default DefaultRedisClaimInterval.
	ClaimInterval time.Duration
	// BlockTime bounds one blocking read. It does not delay delivery (a
	// read returns as soon as an entry arrives); it sets how often an idle
	// subscriber asks again and how long a closed one lingers.
	// Default DefaultRedisBlockTime.
	BlockTime time.Duration
	// NackResendSleep is the pause before a nacked message is delivered
	// again. The router only nacks when even the poison queue could not
	// take the message (Redis is away), so redelivering at once would spin.
	// Default DefaultRedisNackResendSleep.
	NackResendSleep time.Duration
	// ReadAhead is how many new entries a subscription asks for in one
	// XREADGROUP. Default DefaultRedisReadAhead; 1 reads one at a time.
	ReadAhead int64
	// AckDelay is how long an acknowledgement may wait for the next read
	// to carry it before it is sent alone. Default DefaultRedisAckDelay.
	AckDelay time.Duration
	// ConsumersPerGroup is how many messages a ConcurrentSubscriber hands
	// over at once. Default DefaultRedisConsumersPerGroup.
	ConsumersPerGroup int
	// MaxLen caps every stream at about this many entries (XADD MAXLEN ~).
	// 0 keeps everything (the trimmer still trims what every group has
	// acknowledged). A trimmed entry that was still pending is dropped when
	// claimed, so keep it well above any backlog.
	MaxLen int64
	// Trim is what the trimmer (RunTrimmer) trims; zero values take the
	// defaults of RedisTrimConfig.
	Trim RedisTrimConfig
	// StateLogger gets the lines about Redis going away, coming back and
	// groups being recreated, which an operator wants at info level even
	// where Watermill's chatty info lines are demoted; nil: the logger.
	StateLogger watermill.LoggerAdapter
}

const (
	// DefaultRedisMaxIdleTime is over twice a message's handling with its
	// retries, so that a slow but live consumer is rarely robbed of its
	// entry (a duplicate at worst: handlers are idempotent).
	DefaultRedisMaxIdleTime     = 10 * time.Second
	DefaultRedisClaimInterval   = time.Second
	DefaultRedisBlockTime       = time.Second
	DefaultRedisNackResendSleep = 500 * time.Millisecond
	// DefaultRedisReadAhead: a backlog costs one round trip per 16 entries,
	// handled well within MaxIdleTime; entries that waited half of it are
	// left for a claim instead.
	DefaultRedisReadAhead = 16
	// DefaultRedisAckDelay: under load the next read carries the
	// acknowledgements long before; an idle subscriber's last ones are
	// sent after this.
	DefaultRedisAckDelay = 10 * time.Millisecond
	// DefaultRedisConsumersPerGroup: the read model's handler mostly waits
	// on PostgreSQL, so several in flight keep its group level with the load.
	DefaultRedisConsumersPerGroup = 4
)

// DefaultConsumerName is unique per process and start: host, pid and a
// random suffix (a restarted process is a new consumer; the entries the
// old one left pending are claimed after MaxIdleTime).
func DefaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), watermill.NewShortUUID()[:8])
}

// RedisStreamsPubSub is the Redis Streams broker: one stream per topic,
// one Redis consumer group per app consumer group. Entries use the plain
// format of RedisEntryMarshaller; watermill-redisstream's publisher adds
// them, RedisStreamSubscriber reads them.
type RedisStreamsPubSub struct {
	cfg       RedisStreamsConfig
	logger    watermill.LoggerAdapter
	client    *redis.Client
	publisher *redisstream.Publisher
	// outage is shared by everything that calls Redis here, so that an
	// outage is logged once, not once per subscription.
	outage *redisOutageLog
	groups *redisSubscribedGroups

	subscribers subscriberSet[*RedisStreamSubscriber]
}

func NewRedisStreamsPubSub(cfg RedisStreamsConfig, logger watermill.LoggerAdapter) (*RedisStreamsPubSub, error) {
	if cfg.Redis.Addr == "" && cfg.Redis.Dialer == nil {
		return nil, errors.New("redis streams pub/sub: no redis address")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	if cfg.ConsumerName == "" {
		cfg.ConsumerName = DefaultConsumerName()
	}
	setDefault(&cfg.MaxIdleTime, DefaultRedisMaxIdleTime)
	setDefault(&cfg.ClaimInterval, DefaultRedisClaimInterval)
	setDefault(&cfg.BlockTime, DefaultRedisBlockTime)
	setDefault(&cfg.NackResendSleep, DefaultRedisNackResendSleep)
	setDefault(&cfg.AckDelay, DefaultRedisAckDelay)
	if cfg.ReadAhead <= 0 {
		cfg.ReadAhead = DefaultRedisReadAhead
	}
	if cfg.ConsumersPerGroup <= 0 {
		cfg.ConsumersPerGroup = DefaultRedisConsumersPerGroup
	}
	cfg.Trim = cfg.Trim.withDefaults()

	client := cfg.newClient()
	publisher, err := redisstream.NewPublisher(redisstream.PublisherConfig{
		Client:        newGroupCommittingClient(client),
		Marshaller:    RedisEntryMarshaller{},
		DefaultMaxlen: cfg.MaxLen,
	}, logger)
	if err != nil {
		return nil, errors.Join(err, client.Close())
	}
	stateLogger := cfg.StateLogger
	if stateLogger == nil {
		stateLogger = logger
	}
	return &RedisStreamsPubSub{
		cfg: cfg, logger: logger, client: client, publisher: publisher,
		outage: newRedisOutageLog(stateLogger), groups: newRedisSubscribedGroups(),
	}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// newClient makes a client from a copy of the template: go-redis fills in
// defaults in the Options it is given, which must not be shared.
func (cfg RedisStreamsConfig) newClient() *redis.Client {
	opts := cfg.Redis
	return redis.NewClient(&opts)
}

func (p *RedisStreamsPubSub) Publisher() message.Publisher { return p.publisher }

// Subscriber returns a subscriber of the consumer group, this process's
// consumer of it, handing over one message at a time in stream order
// (across processes the group's entries are shared out). Groups start from
// the beginning of the stream (redisGroupStartID), so entries added before
// the first subscriber existed are delivered too.
func (p *RedisStreamsPubSub) Subscriber(consumerGroup string) (message.Subscriber, error) {
	return p.subscriber(consumerGroup, 1)
}

// ConcurrentSubscriber is like Subscriber, but hands over up to
// ConsumersPerGroup messages at once (out of order), from the same reads.
func (p *RedisStreamsPubSub) ConcurrentSubscriber(consumerGroup string) (message.Subscriber, error) {
	return p.subscriber(consumerGroup, p.cfg.ConsumersPerGroup)
}

func (p *RedisStreamsPubSub) subscriber(consumerGroup string, handlers int) (*RedisStreamSubscriber, error) {
	if consumerGroup == "" {
		// Without a group there is nothing to resume from: entries added
		// while nobody listens would be lost.
		return nil, MissingConsumerGroupError{}
	}
	return p.subscribers.add(func() (*RedisStreamSubscriber, error) {
		return newRedisStreamSubscriber(p.cfg.newClient(), redisSubscriberConfig{
			Group:           consumerGroup,
			Consumer:        p.cfg.ConsumerName,
			Handlers:        handlers,
			ReadAhead:       p.cfg.ReadAhead,
			BlockTime:       p.cfg.BlockTime,
			ClaimInterval:   p.cfg.ClaimInterval,
			MaxIdleTime:     p.cfg.MaxIdleTime,
			NackResendSleep: p.cfg.NackResendSleep,
			AckDelay:        p.cfg.AckDelay,
		}, p.logger, p.outage, p.groups), nil
	})
}

// Close closes the subscribers made here, the publisher and the client.
func (p *RedisStreamsPubSub) Close() error {
	return p.subscribers.close(p.publisher, p.client)
}
