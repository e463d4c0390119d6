package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/app"
)

// OutboxPublisherFactory builds a publisher that writes messages in the
// given transaction, so that events are stored atomically with the change
// that recorded them (the transactional outbox).
type OutboxPublisherFactory func(tx *sql.Tx) (message.Publisher, error)

// PostgresUnitOfWork is the PostgreSQL store. Transactions run at READ
// COMMITTED: products are loaded without locks and Commit checks their
// version (optimistic concurrency), then writes the recorded events through
// the outbox publisher in the same database transaction.
type PostgresUnitOfWork struct {
	db                 *sql.DB
	newOutboxPublisher OutboxPublisherFactory
	logger             watermill.LoggerAdapter
	afterCommit        func()
}

// UnitOfWorkOption configures a PostgresUnitOfWork.
type UnitOfWorkOption func(*PostgresUnitOfWork)

// WithCommitNotify calls notify after every commit that stored events, so
// that what reads them (the outbox relay, the SQL broker's subscribers)
// does so at once instead of at its idle interval. notify must not block.
func WithCommitNotify(notify func()) UnitOfWorkOption {
	return func(u *PostgresUnitOfWork) { u.afterCommit = notify }
}

// NewPostgresUnitOfWork returns a store on db whose transactions publish
// their events with a publisher made by newOutboxPublisher (SQLOutbox or
// RelayedOutbox). The schema must be migrated (Migrate), and for SQLOutbox
// its topics' tables created (InitializeSQLTopics), before the first commit.
func NewPostgresUnitOfWork(db *sql.DB, newOutboxPublisher OutboxPublisherFactory, logger watermill.LoggerAdapter, options ...UnitOfWorkOption) (*PostgresUnitOfWork, error) {
	switch {
	case db == nil:
		return nil, errors.New("postgres unit of work: no database")
	case newOutboxPublisher == nil:
		return nil, errors.New("postgres unit of work: no outbox publisher")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	u := &PostgresUnitOfWork{db: db, newOutboxPublisher: newOutboxPublisher, logger: logger}
	for _, option := range options {
		option(u)
	}
	return u, nil
}

// Begin starts a database transaction. Cancelling ctx rolls it back.
func (u *PostgresUnitOfWork) Begin(ctx context.Context) (app.Transaction, error) {
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, asUnavailable(fmt.Errorf("beginning transaction: %w", err))
	}
	return &transaction{uow: u, tx: tx, seen: map[string]*seenProduct{}}, nil
}
