// Package sqltopics creates the tables of watermill-sql topics, for the
// SQL broker and the store's SQL outbox alike, under one advisory lock.
package sqltopics

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// lockKey serialises table creation across processes: PostgreSQL's CREATE
// TABLE IF NOT EXISTS is not safe under concurrency (two sessions can both
// pass the check and one fails on pg_type's unique index).
const lockKey int64 = 0x616c6c6f63_01 // "alloc", 1

// maxPostgresIdentifier is PostgreSQL's NAMEDATALEN-1: longer table names
// are silently truncated, and two long topics would share a table.
const maxPostgresIdentifier = 63

// Create creates the messages and offsets tables of the topics, with
// watermill-sql's own queries, where missing. A transactional publisher
// must not create tables (that would commit the caller's transaction), so
// every topic it writes must be created with this at start-up.
func Create(ctx context.Context, db *sql.DB, topics ...string) error {
	for _, topic := range topics {
		if err := CheckName(topic); err != nil {
			return err
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("creating topic tables: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("creating topic tables: %w", err)
	}
	for _, topic := range topics {
		queries := append(wsql.DefaultPostgreSQLSchema{}.SchemaInitializingQueries(topic), wsql.DefaultPostgreSQLOffsetsAdapter{}.SchemaInitializingQueries(topic)...)
		for _, q := range queries {
			if _, err := tx.ExecContext(ctx, q.Query, q.Args...); err != nil {
				return fmt.Errorf("creating the tables of topic %s: %w", topic, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating topic tables: %w", err)
	}
	return nil
}

// CheckName refuses topics whose tables cannot be named safely. The
// character set is watermill-sql's own (topics are pasted into quoted
// identifiers); it is checked here because tables are created before the
// library sees the topic.
func CheckName(topic string) error {
	if topic == "" {
		return InvalidTopicError{Topic: topic, Reason: "empty"}
	}
	for _, r := range topic {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '$' || r == ':' || r == '.' || r == '_'
		if !ok {
			return InvalidTopicError{Topic: topic, Reason: fmt.Sprintf("character %q not allowed (A-Z a-z 0-9 - $ : . _)", r)}
		}
	}
	if longest := "watermill_offsets_" + topic; len(longest) > maxPostgresIdentifier {
		return InvalidTopicError{Topic: topic, Reason: fmt.Sprintf("table name %s is longer than %d bytes", longest, maxPostgresIdentifier)}
	}
	return nil
}

// InvalidTopicError is a topic whose tables cannot be created.
type InvalidTopicError struct {
	Topic  string
	Reason string
}

func (e InvalidTopicError) Error() string {
	return fmt.Sprintf("topic %q cannot be a SQL table: %s", e.Topic, e.Reason)
}

// Created remembers the topics whose tables exist, to create each once.
type Created struct{ topics sync.Map }

// Ensure creates the topic's tables unless it did already.
func (c *Created) Ensure(ctx context.Context, db *sql.DB, topic string) error {
	if _, ok := c.topics.Load(topic); ok {
		return nil
	}
	if err := Create(ctx, db, topic); err != nil {
		return err
	}
	c.topics.Store(topic, struct{}{})
	return nil
}
