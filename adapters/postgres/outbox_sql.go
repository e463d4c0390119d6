package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/internal/sqltopics"
	"allocation/adapters/messagebus"
	"allocation/domain"
)

// EventTopics are the topics the store's transactions publish events on.
func EventTopics() []string {
	m := messagebus.Marshaler()
	return []string{
		messagebus.EventTopic(m.Name(domain.Allocated{})),
		messagebus.EventTopic(m.Name(domain.Deallocated{})),
		messagebus.EventTopic(m.Name(domain.OutOfStock{})),
	}
}

// SQLOutbox publishes events straight to their topics' watermill-sql tables
// in the transaction (BROKER=sql): the outbox is the broker. The topic
// tables must exist: see InitializeSQLTopics.
func SQLOutbox(logger watermill.LoggerAdapter) OutboxPublisherFactory {
	return func(tx *sql.Tx) (message.Publisher, error) {
		return newTxPublisher(tx, logger)
	}
}

// newTxPublisher is a watermill-sql publisher writing in tx. It must not
// create tables: DDL inside the command's transaction is forbidden by the
// library (it could commit implicitly on some databases) and would take
// heavy locks.
func newTxPublisher(tx *sql.Tx, logger watermill.LoggerAdapter) (*watermillsql.Publisher, error) {
	p, err := watermillsql.NewPublisher(tx, watermillsql.PublisherConfig{
		SchemaAdapter: watermillsql.DefaultPostgreSQLSchema{},
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("creating SQL outbox publisher: %w", err)
	}
	return p, nil
}

// InitializeSQLTopics creates the watermill-sql tables of the topics
// SQLOutbox writes (EventTopics, under the broker's prefix) at start-up.
func InitializeSQLTopics(ctx context.Context, db *sql.DB, topics []string) error {
	return sqltopics.Create(ctx, db, topics...)
}
