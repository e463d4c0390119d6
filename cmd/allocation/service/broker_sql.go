package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
	"allocation/contracts"
)

// openSQLBroker opens watermill-sql on the store's database: a command's
// transaction writes its events straight to their topic tables, so there
// is no relay, and a commit wakes the subscribers of this process.
func openSQLBroker(ctx context.Context, d brokerDeps) (brokerParts, error) {
	cfg, prefix := d.cfg, d.cfg.TopicPrefix
	if d.db == nil {
		return brokerParts{}, errors.New("the SQL broker needs a database")
	}
	handlerDB, err := openHandlerDatabase(ctx, d)
	if err != nil {
		return brokerParts{}, err
	}
	external := prefix + contracts.ChangeBatchQuantityTopic
	tables, err := pubsub.NewSQLPubSub(d.db, pubsub.SQLConfig{
		PollInterval:     cfg.SQLPollInterval,
		IdlePollInterval: cfg.IdlePollInterval,
		// Other services publish there without waking this process.
		AlwaysPolled: func(topic string) bool { return topic == external },
	}, d.wmLogger)
	if err != nil {
		return brokerParts{}, err
	}
	d.resources.add(tables.Close)
	onHandlerDB, err := tables.PublisherOn(handlerDB)
	if err != nil {
		return brokerParts{}, err
	}
	d.resources.add(onHandlerDB.Close)
	handlerPublisher, err := d.instrument(pubsub.NewNamespacedPublisher(onHandlerDB, prefix))
	if err != nil {
		return brokerParts{}, err
	}
	poison, err := pubsub.NewSQLPoisonQueue(d.db, prefix)
	if err != nil {
		return brokerParts{}, err
	}
	sqlOutbox := postgres.SQLOutbox(d.wmLogger)
	var topics []string
	for _, t := range postgres.EventTopics() {
		topics = append(topics, prefix+t)
	}
	return brokerParts{
		pubSub:           withTopicPrefix(tables, prefix),
		poison:           poison,
		handlerPublisher: handlerPublisher,
		handlerDB:        handlerDB,
		outbox: func(tx *sql.Tx) (message.Publisher, error) {
			pub, err := sqlOutbox(tx)
			if err != nil {
				return nil, err
			}
			return pubsub.NewNamespacedPublisher(pub, prefix), nil
		},
		outboxTopics: topics,
		wake:         tables.Wake,
	}, nil
}

// openHandlerDatabase opens the pool of the event handlers' own writes. A
// crash of PostgreSQL may lose the last writes committed through it, but
// only together with the acknowledgements of the events that caused them,
// which are then delivered and handled again; see
// postgres.OpenAsynchronousCommit.
func openHandlerDatabase(ctx context.Context, d brokerDeps) (*sql.DB, error) {
	db, err := postgres.OpenAsynchronousCommit(ctx, d.cfg.DatabaseURL, postgres.WithResponseTimeout(d.cfg.DatabaseTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL (event handlers' pool): %w", err)
	}
	d.resources.add(db.Close)
	return db, nil
}
