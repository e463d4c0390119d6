package service

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
	"allocation/adapters/metrics"
	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
	"allocation/adapters/tracing"
	"allocation/app"
	"allocation/config"
	"allocation/ports/httpapi"
)

// brokerParts is everything the configured broker brings to the service.
type brokerParts struct {
	// pubSub has the topic prefix applied.
	pubSub messagebus.PubSub
	poison app.PoisonQueue
	// handlerPublisher is what event handlers publish external events on,
	// with tracing and publisher metrics.
	handlerPublisher message.Publisher
	// handlerDB is the pool of event handlers' own writes when the broker
	// brings one (SQL); nil: the store's pool.
	handlerDB *sql.DB
	// outbox is how a command's transaction stores its events, with the
	// tables it needs; relay is where the outbox relay publishes them,
	// nil when the outbox already is the broker (SQL).
	outbox       postgres.OutboxPublisherFactory
	outboxTopics []string
	relay        *postgres.RelayDestination
	// wake tells the broker's subscribers that this process committed
	// messages through the outbox; nil when the relay is told instead.
	wake      func()
	readiness []httpapi.ReadinessCheck
	// workers run beside the router until their context ends.
	workers []func(context.Context) error
}

// brokerDeps is what opening a broker may need.
type brokerDeps struct {
	cfg       config.Config
	db        *sql.DB // nil unless the store or the broker is PostgreSQL
	metrics   *metrics.Metrics
	logger    *slog.Logger
	wmLogger  watermill.LoggerAdapter
	resources *resources
}

// openBroker opens the broker BROKER names.
func openBroker(ctx context.Context, d brokerDeps) (brokerParts, error) {
	switch d.cfg.Broker {
	case config.BrokerMemory:
		return openMemoryBroker(d)
	case config.BrokerRedis:
		return openRedisBroker(d)
	case config.BrokerSQL:
		return openSQLBroker(ctx, d)
	case config.BrokerNATS:
		return openNATSBroker(d)
	}
	return brokerParts{}, fmt.Errorf("BROKER=%s is not supported", d.cfg.Broker)
}

// withTopicPrefix puts every topic of ps under prefix (TOPIC_PREFIX).
func withTopicPrefix(ps messagebus.PubSub, prefix string) messagebus.PubSub {
	if prefix == "" {
		return ps
	}
	return pubsub.NewNamespacedPubSub(ps, prefix)
}

// instrument traces and counts what pub publishes.
func (d brokerDeps) instrument(pub message.Publisher) (message.Publisher, error) {
	return d.metrics.DecoratePublisher(tracing.DecoratePublisher(pub, messagingSystem(d.cfg.Broker)))
}

// relayedBroker is what a broker brings whose events leave through the
// outbox table and its relay (every broker but SQL), with the handlers' and
// the relay's publishers instrumented.
func (d brokerDeps) relayedBroker(ps messagebus.PubSub, poison app.PoisonQueue, relay postgres.RelayDestination) (brokerParts, error) {
	handlerPublisher, err := d.instrument(ps.Publisher())
	if err != nil {
		return brokerParts{}, err
	}
	if relay.Publisher, err = d.instrument(relay.Publisher); err != nil {
		return brokerParts{}, err
	}
	return brokerParts{pubSub: ps, poison: poison, handlerPublisher: handlerPublisher, outbox: postgres.RelayedOutbox, relay: &relay}, nil
}
