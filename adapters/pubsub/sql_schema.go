package pubsub

import (
	"context"
	"database/sql"
	"fmt"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
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

// sqlSchemaLockKey is the advisory lock that serialises schema creation
// across processes: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
// under concurrency (two sessions can both pass the check and one fails on
// pg_type's unique index), and a router subscribes several handlers to one
// topic at start-up, several processes at once.
const sqlSchemaLockKey int64 = 0x616c6c6f63_01 // "alloc", 1

// maxPostgresIdentifier is PostgreSQL's NAMEDATALEN-1: longer table names
// are silently truncated, and two long topics would share a table.
const maxPostgresIdentifier = 63

// InitializeSQLTopic creates the messages and offsets tables of a topic
// if missing. The transactional publisher must not create tables (that
// would commit the caller's transaction), so every topic it writes must be
// initialised with this at start-up.
func InitializeSQLTopic(ctx context.Context, db *sql.DB, topic string) error {
	if err := checkSQLTopicName(topic); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("initializing topic %s: %w", topic, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, sqlSchemaLockKey); err != nil {
		return fmt.Errorf("initializing topic %s: %w", topic, err)
	}
	queries := append(SQLSchemaAdapter(0).SchemaInitializingQueries(topic), SQLOffsetsAdapter().SchemaInitializingQueries(topic)...)
	for _, q := range queries {
		if _, err := tx.ExecContext(ctx, q.Query, q.Args...); err != nil {
			return fmt.Errorf("initializing topic %s: %w", topic, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("initializing topic %s: %w", topic, err)
	}
	return nil
}

// checkSQLTopicName refuses topics whose tables cannot be named safely.
// The character set is watermill-sql's own (topics are pasted into quoted
// identifiers); it is checked here too because tables are created before
// the library sees the topic.
func checkSQLTopicName(topic string) error {
	if topic == "" {
		return InvalidSQLTopicError{Topic: topic, Reason: "empty"}
	}
	for _, r := range topic {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '$' || r == ':' || r == '.' || r == '_'
		if !ok {
			return InvalidSQLTopicError{Topic: topic, Reason: fmt.Sprintf("character %q not allowed (A-Z a-z 0-9 - $ : . _)", r)}
		}
	}
	longest := "watermill_offsets_" + topic
	if len(longest) > maxPostgresIdentifier {
		return InvalidSQLTopicError{Topic: topic, Reason: fmt.Sprintf("table name %s is longer than %d bytes", longest, maxPostgresIdentifier)}
	}
	return nil
}

// InvalidSQLTopicError is a topic the SQL broker cannot store.
type InvalidSQLTopicError struct {
	Topic  string
	Reason string
}

func (e InvalidSQLTopicError) Error() string {
	return fmt.Sprintf("topic %q cannot be a SQL table: %s", e.Topic, e.Reason)
}
