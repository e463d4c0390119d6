package service

import (
	"database/sql"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
	"allocation/adapters/postgres"
	"allocation/adapters/tracing"
	"allocation/config"
)

// messagingSystem is the messaging.system of the configured broker.
func messagingSystem(broker string) string {
	switch broker {
	case config.BrokerRedis:
		return "redis"
	case config.BrokerSQL:
		return "postgresql"
	case config.BrokerNATS:
		return "nats"
	default:
		return "gochannel"
	}
}

// traceMessages is the router middleware that continues a message's trace
// in a consumer span per handler.
func traceMessages(broker string) message.HandlerMiddleware {
	return tracing.ConsumerMiddleware(messagingSystem(broker), messagebus.ConsumerGroup)
}

// traceOutbox traces what a command's transaction stores for publishing:
// the producer span's context goes into the stored message's metadata, for
// the relay (or the SQL broker's subscribers) to continue.
func traceOutbox(outbox postgres.OutboxPublisherFactory, system string) postgres.OutboxPublisherFactory {
	return func(tx *sql.Tx) (message.Publisher, error) {
		pub, err := outbox(tx)
		if err != nil {
			return nil, err
		}
		return tracing.DecoratePublisher(pub, system), nil
	}
}
