package pubsub

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/internal/idlepoll"
	"allocation/adapters/internal/sqltopics"
)

// SQLConfig configures SQLPubSub. Zero values take the defaults below.
type SQLConfig struct {
	// PollInterval is the pause after a poll that found nothing: up to
	// that much latency per hop. Each poll of each subscriber is a
	// transaction that locks its group's offsets row and so uses up a
	// transaction id.
	// Required (config.Config.SQLPollInterval).
	PollInterval time.Duration
	// BatchSize is how many messages a subscriber reads per transaction.
	// The transaction stays open (and holds back the visibility of every
	// newer message in the database, for all subscribers) until the last
	// of them is acked, and the whole batch is redelivered after a crash.
	// Default DefaultSQLBatchSize.
	BatchSize int
	// AckDeadline is how long a message may wait for its ack before it is
	// given up and redelivered. Default 30 s (the library's).
	AckDeadline time.Duration
	// ResendInterval is the pause before a nacked message is delivered
	// again (the router nacks only when even the poison queue failed).
	// Default DefaultSQLResendInterval.
	ResendInterval time.Duration
	// RetryInterval is the pause after a failed poll (database away).
	// Default 1 s (the library's).
	RetryInterval time.Duration
	// IdlePollInterval, when positive, lets a subscriber rest once its
	// polls have found nothing for that long: it then polls every
	// IdlePollInterval, or at once when this pub/sub publishes or is told
	// (Wake) that messages were committed. 0: subscribers never rest.
	IdlePollInterval time.Duration
	// AlwaysPolled reports the topics whose subscribers never rest: those
	// that other programs publish on without waking this process (external
	// topics). Nil: none.
	AlwaysPolled func(topic string) bool
}

const (
	// DefaultSQLBatchSize: a transaction per message left handlers far
	// behind under load (BENCHMARKS.md); the price is a transaction open
	// until a batch's last ack, holding back the visibility of newer rows,
	// and a whole batch redelivered after a crash (handlers are idempotent).
	DefaultSQLBatchSize      = 30
	DefaultSQLAckDeadline    = 30 * time.Second
	DefaultSQLResendInterval = 500 * time.Millisecond
	DefaultSQLRetryInterval  = time.Second
)

// SQLPubSub is the PostgreSQL broker (watermill-sql): a table per topic,
// consumer groups as rows of the topic's offsets table. Subscribers of one
// group take turns (the offsets row is locked while a batch is handled), so
// a group is processed one message at a time across all processes.
//
// A row becomes visible only when every transaction older than the one
// that wrote it has finished, and a subscriber's transaction stays open
// while its handler runs. So a slow handler (retries with backoff, a slow
// mail server) delays the delivery of everything published after it began,
// on every topic of the database, for every group. Keep handlers short on
// this broker.
type SQLPubSub struct {
	db        *sql.DB
	cfg       SQLConfig
	logger    watermill.LoggerAdapter
	publisher *sqlPublisher

	topics sqltopics.Created

	subscribers subscriberSet[*sqlSubscriber]

	// wakes are the subscribers' signals, under a lock of their own:
	// handlers publish (and so wake) while Close holds the subscribers'
	// lock and waits for them.
	wakesMu sync.Mutex
	wakes   []*idlepoll.Signal
}

// Wake tells the subscribers that messages were committed, so that those
// resting poll at once. The publisher wakes them itself; call Wake after
// committing messages some other way (the transactional outbox). It never
// blocks.
func (p *SQLPubSub) Wake() {
	p.wakesMu.Lock()
	defer p.wakesMu.Unlock()
	for _, w := range p.wakes {
		w.Notify()
	}
}

// NewSQLPubSub uses db (lib/pq) for the broker. The caller owns db. Give
// the broker a pool of its own or enough connections: each subscriber
// keeps one in a transaction while its handler runs, and a handler that
// needs another from an exhausted shared pool would wait for ever.
func NewSQLPubSub(db *sql.DB, cfg SQLConfig, logger watermill.LoggerAdapter) (*SQLPubSub, error) {
	if db == nil {
		return nil, errors.New("sql pub/sub: no database")
	}
	if cfg.PollInterval <= 0 {
		return nil, errors.New("sql pub/sub: no poll interval")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	setDefault(&cfg.AckDeadline, DefaultSQLAckDeadline)
	setDefault(&cfg.ResendInterval, DefaultSQLResendInterval)
	setDefault(&cfg.RetryInterval, DefaultSQLRetryInterval)
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultSQLBatchSize
	}
	p := &SQLPubSub{db: db, cfg: cfg, logger: logger}
	publisher, err := p.newPublisher(db)
	if err != nil {
		return nil, err
	}
	p.publisher = publisher
	return p, nil
}

// Publisher inserts messages outside any transaction. For the outbox, make
// a watermill-sql publisher on the transaction with SQLSchemaAdapter and
// create its topics' tables first.
func (p *SQLPubSub) Publisher() message.Publisher { return p.publisher }

// PublisherOn is a publisher to this broker's topics that inserts through
// db, another pool on the same database (one with asynchronous commit, for
// instance). Topic tables are still created through the broker's own pool.
// The caller owns db; Close does not close it.
func (p *SQLPubSub) PublisherOn(db *sql.DB) (message.Publisher, error) {
	if db == nil {
		return nil, errors.New("sql pub/sub: no database for the publisher")
	}
	return p.newPublisher(db)
}

func (p *SQLPubSub) newPublisher(db *sql.DB) (*sqlPublisher, error) {
	publisher, err := wsql.NewPublisher(db, wsql.PublisherConfig{
		SchemaAdapter: SQLSchemaAdapter(p.cfg.BatchSize),
		// Tables are created by topics.Ensure, under a lock.
		AutoInitializeSchema: false,
	}, p.logger)
	if err != nil {
		return nil, err
	}
	return &sqlPublisher{pubsub: p, publisher: publisher}, nil
}

// ConcurrentSubscriber is Subscriber: watermill-sql's subscribers of one
// group take turns, so a group is handled one message at a time anyway.
func (p *SQLPubSub) ConcurrentSubscriber(consumerGroup string) (message.Subscriber, error) {
	return p.Subscriber(consumerGroup)
}

func (p *SQLPubSub) Subscriber(consumerGroup string) (message.Subscriber, error) {
	if consumerGroup == "" {
		return nil, MissingConsumerGroupError{}
	}
	return p.subscribers.add(func() (*sqlSubscriber, error) { return p.newSubscriber(consumerGroup) })
}

func (p *SQLPubSub) newSubscriber(consumerGroup string) (*sqlSubscriber, error) {
	ackDeadline := p.cfg.AckDeadline
	wake := idlepoll.NewSignal()
	// The library's default policy, resting once idle (Subscribe decides
	// whether the topic may).
	backoff := idlepoll.New(wsql.NewDefaultBackoffManager(p.cfg.PollInterval, p.cfg.RetryInterval), 0, wake)
	subscriber, err := wsql.NewSubscriber(p.db, wsql.SubscriberConfig{
		ConsumerGroup:  consumerGroup,
		AckDeadline:    &ackDeadline,
		PollInterval:   p.cfg.PollInterval,
		ResendInterval: p.cfg.ResendInterval,
		RetryInterval:  p.cfg.RetryInterval,
		BackoffManager: backoff,
		SchemaAdapter:  SQLSchemaAdapter(p.cfg.BatchSize),
		OffsetsAdapter: SQLOffsetsAdapter(),
		// Tables are created by topics.Ensure, under a lock.
		InitializeSchema: false,
	}, p.logger)
	if err != nil {
		return nil, err
	}
	wrapped := &sqlSubscriber{pubsub: p, subscriber: subscriber, backoff: backoff}
	p.wakesMu.Lock()
	p.wakes = append(p.wakes, wake)
	p.wakesMu.Unlock()
	return wrapped, nil
}

// Close closes the subscribers made here and the publisher; the database
// is the caller's.
func (p *SQLPubSub) Close() error {
	return p.subscribers.close(p.publisher)
}

// sqlPublisher creates a topic's tables before its first message.
type sqlPublisher struct {
	pubsub    *SQLPubSub
	publisher *wsql.Publisher
}

func (p *sqlPublisher) Publish(topic string, msgs ...*message.Message) error {
	if err := p.pubsub.topics.Ensure(context.Background(), p.pubsub.db, topic); err != nil {
		return err
	}
	for _, msg := range msgs {
		// The payload column is JSON, which refuses an empty string but
		// takes NULL, and NULL reads back as an empty payload.
		if len(msg.Payload) == 0 {
			msg.Payload = nil
		}
	}
	if err := p.publisher.Publish(topic, msgs...); err != nil {
		return err
	}
	p.pubsub.Wake()
	return nil
}

func (p *sqlPublisher) Close() error { return p.publisher.Close() }

// sqlSubscriber creates a topic's tables before subscribing, and makes
// Close safe to call concurrently (the router and SQLPubSub.Close may both
// call it; the library's Close would close its channel twice).
type sqlSubscriber struct {
	pubsub     *SQLPubSub
	subscriber *wsql.Subscriber
	backoff    *idlepoll.Backoff
	restMu     sync.Mutex
	neverRests bool
	closeOnce  sync.Once
	closeErr   error
}

func (s *sqlSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := s.pubsub.topics.Ensure(ctx, s.pubsub.db, topic); err != nil {
		return nil, err
	}
	s.allowRest(topic)
	return s.subscriber.Subscribe(ctx, topic)
}

// allowRest lets the subscriber rest unless it reads, or has read, an
// always-polled topic: its topics share one polling policy.
func (s *sqlSubscriber) allowRest(topic string) {
	cfg := s.pubsub.cfg
	s.restMu.Lock()
	defer s.restMu.Unlock()
	if cfg.AlwaysPolled != nil && cfg.AlwaysPolled(topic) {
		s.neverRests = true
	}
	if cfg.IdlePollInterval > 0 && !s.neverRests {
		s.backoff.SetIdleInterval(cfg.IdlePollInterval)
	} else {
		s.backoff.SetIdleInterval(0)
	}
}

func (s *sqlSubscriber) Close() error {
	s.closeOnce.Do(func() {
		// A resting subscriber waits inside the library's polling loop;
		// end that wait, or closing would wait for the idle interval.
		s.backoff.Stop()
		s.closeErr = s.subscriber.Close()
	})
	return s.closeErr
}
