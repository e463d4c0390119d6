package pubsub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/memory"
	"allocation/adapters/messagebus"
	"allocation/app"
)

// Broker kinds, as configured by BROKER.
const (
	KindMemory = "memory"
	KindRedis  = "redis"
	KindSQL    = "sql"
)

// BrokerConfig chooses and configures the broker.
type BrokerConfig struct {
	Kind string
	// RedisAddr is the Redis server (KindRedis).
	RedisAddr string
	// DB is the PostgreSQL pool (KindSQL); the caller owns it.
	DB *sql.DB
	// HandlerDB, when set, is the pool through which HandlerPublisher
	// inserts (KindSQL): another pool on the same database, typically with
	// asynchronous commit (postgres.OpenAsynchronousCommit), which is safe
	// there because the subscriber's acknowledgement is committed
	// synchronously after the handler. The caller owns it.
	HandlerDB *sql.DB
	// SQLPollInterval is how often a SQL subscriber polls (KindSQL).
	SQLPollInterval time.Duration
	// IdlePollInterval is how often a SQL subscriber that has found
	// nothing for that long polls (KindSQL; SQLConfig.IdlePollInterval):
	// Wake, and this process's publishes, make it poll at once. 0: never
	// rests.
	IdlePollInterval time.Duration
	// ExternalTopics are topics other programs publish on (unprefixed);
	// their SQL subscribers never rest, and Redis never trims them.
	ExternalTopics []string
	// TopicPrefix, when set, prefixes every topic (NamespacedPubSub).
	TopicPrefix string
	// StateLogger gets the broker's lines about its connection (Redis
	// away, back, groups recreated), at their own levels; nil: the logger.
	StateLogger watermill.LoggerAdapter
}

// Broker is the broker the configuration chose: the pub/sub (with the
// topic prefix applied), its poison queue, and how to check and close it.
type Broker struct {
	PubSub messagebus.PubSub
	Poison app.PoisonQueue
	// Ping checks that the broker answers and has what the service needs
	// (Redis: the subscriptions' consumer groups); nil when there is
	// nothing of its own to check (in-process, or the caller's database).
	Ping func(ctx context.Context) error
	// PingName names the dependency Ping checks.
	PingName string
	// RelayPublisher and FlushRelay are the outbox relay's destination when
	// the broker has one of its own (Redis: pipelined, one round trip per
	// batch; topic prefix applied); nil otherwise, and the relay publishes
	// through PubSub.
	RelayPublisher message.Publisher
	FlushRelay     func(context.Context) error
	// HandlerPublisher is for what event handlers publish as the effect of
	// an event (external events), topic prefix applied: on the SQL broker
	// with a HandlerDB, it inserts through that pool; otherwise it is
	// PubSub's publisher.
	HandlerPublisher message.Publisher
	// Wake tells the broker's subscribers that this process committed
	// messages outside its publisher (the transactional outbox on the SQL
	// broker); it never blocks. Nil when the broker needs no telling.
	Wake func()
	// Workers run beside the router until their context ends (Redis: the
	// trimmer); they fail only when they cannot go on at all.
	Workers []func(context.Context) error
	closers []func() error
}

// Close releases the broker's connections.
func (b *Broker) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	return errors.Join(errs...)
}

// OpenBroker is the one place that builds the publisher, subscribers and
// poison queue of the configured broker. lifetime bounds background work
// that must outlive this call (the in-memory poison queue's subscription).
func OpenBroker(lifetime context.Context, cfg BrokerConfig, logger watermill.LoggerAdapter) (*Broker, error) {
	b := &Broker{}
	var raw messagebus.PubSub
	switch cfg.Kind {
	case KindMemory:
		channel := NewGoChannelPubSub(logger)
		b.closers = append(b.closers, channel.Close)
		raw = channel
	case KindRedis:
		untrimmed := make([]string, 0, len(cfg.ExternalTopics))
		for _, topic := range cfg.ExternalTopics {
			untrimmed = append(untrimmed, cfg.TopicPrefix+topic)
		}
		redisPS, err := NewRedisStreamsPubSub(RedisStreamsConfig{
			Redis:       redis.Options{Addr: cfg.RedisAddr},
			Trim:        RedisTrimConfig{Untrimmed: untrimmed, PoisonStream: cfg.TopicPrefix + messagebus.PoisonTopic},
			StateLogger: cfg.StateLogger,
		}, logger)
		if err != nil {
			return nil, fmt.Errorf("connecting to Redis: %w", err)
		}
		b.closers = append(b.closers, redisPS.Close)
		b.Ping, b.PingName = redisPS.Ready, "redis"
		b.Workers = append(b.Workers, redisPS.RunTrimmer)
		relay := redisPS.PipelinedPublisher(cfg.TopicPrefix)
		b.RelayPublisher, b.FlushRelay = relay, relay.Flush
		raw = redisPS
	case KindSQL:
		if cfg.DB == nil {
			return nil, errors.New("the SQL broker needs a database")
		}
		external := make(map[string]bool, len(cfg.ExternalTopics))
		for _, topic := range cfg.ExternalTopics {
			external[cfg.TopicPrefix+topic] = true
		}
		sqlPS, err := NewSQLPubSub(cfg.DB, SQLConfig{
			PollInterval:     cfg.SQLPollInterval,
			IdlePollInterval: cfg.IdlePollInterval,
			AlwaysPolled:     func(topic string) bool { return external[topic] },
		}, logger)
		if err != nil {
			return nil, err
		}
		b.Wake = sqlPS.Wake
		// No Ping: the caller owns the database and checks it.
		b.closers = append(b.closers, sqlPS.Close)
		raw = sqlPS
		if cfg.HandlerDB != nil {
			handlerPublisher, err := sqlPS.PublisherOn(cfg.HandlerDB)
			if err != nil {
				return nil, errors.Join(err, b.Close())
			}
			b.closers = append(b.closers, handlerPublisher.Close)
			b.HandlerPublisher = handlerPublisher
		}
	default:
		return nil, fmt.Errorf("broker %q is not supported: use %s, %s or %s", cfg.Kind, KindMemory, KindRedis, KindSQL)
	}
	b.PubSub = raw
	if cfg.TopicPrefix != "" {
		b.PubSub = NewNamespacedPubSub(raw, cfg.TopicPrefix)
		if b.HandlerPublisher != nil {
			b.HandlerPublisher = NewNamespacedPublisher(b.HandlerPublisher, cfg.TopicPrefix)
		}
	}
	if b.HandlerPublisher == nil {
		b.HandlerPublisher = b.PubSub.Publisher()
	}
	if err := b.openPoisonQueue(lifetime, cfg); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// openPoisonQueue gives a view of the poison queue for listing and replay.
// Replays go through the prefixed publisher, back to the prefixed topic.
func (b *Broker) openPoisonQueue(lifetime context.Context, cfg BrokerConfig) error {
	var err error
	switch cfg.Kind {
	case KindMemory:
		// Nobody else can read an in-memory poison topic: keep it here.
		sub, subErr := b.PubSub.Subscriber("allocation.poison-queue")
		if subErr != nil {
			return subErr
		}
		b.Poison, err = memory.NewPoisonQueue(lifetime, sub, b.PubSub.Publisher(), memory.DefaultPoisonCapacity)
	case KindRedis:
		client := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
		b.closers = append(b.closers, client.Close)
		b.Poison = NewRedisPoisonQueue(client, b.PubSub.Publisher(), cfg.TopicPrefix)
	case KindSQL:
		b.Poison, err = NewSQLPoisonQueue(cfg.DB, cfg.TopicPrefix)
	}
	return err
}
