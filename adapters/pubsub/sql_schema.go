package pubsub

import (
	"context"
	"database/sql"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"

	"allocation/adapters/internal/sqltopics"
)

// SQLSchemaAdapter is the messages table layout every SQL publisher and
// subscriber of the service uses, the transactional (outbox) publisher
// included: one table "watermill_<topic>" per topic, JSON payload and
// metadata. batchSize is how many messages a subscriber reads per
// transaction (see SQLConfig.BatchSize).
func SQLSchemaAdapter(batchSize int) wsql.DefaultPostgreSQLSchema {
	return wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: batchSize}
}

// SQLOffsetsAdapter keeps one offsets table "watermill_offsets_<topic>"
// per topic, with a row per consumer group.
func SQLOffsetsAdapter() wsql.DefaultPostgreSQLOffsetsAdapter {
	return wsql.DefaultPostgreSQLOffsetsAdapter{}
}

// InitializeSQLTopic creates the messages and offsets tables of a topic
// if missing (sqltopics.Create).
func InitializeSQLTopic(ctx context.Context, db *sql.DB, topic string) error {
	return sqltopics.Create(ctx, db, topic)
}

// checkSQLTopicName refuses topics whose tables cannot be named safely.
func checkSQLTopicName(topic string) error { return sqltopics.CheckName(topic) }

// InvalidSQLTopicError is a topic the SQL broker cannot store.
type InvalidSQLTopicError = sqltopics.InvalidTopicError
