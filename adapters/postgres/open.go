package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// maxIdleConns keeps warm connections for concurrent commands; database/sql
// keeps only 2 by default, so bursts would reconnect on every transaction.
const maxIdleConns = 16

// Open connects to PostgreSQL and checks the connection. It turns on lib/pq's
// binary_parameters mode, which sends a query with arguments in one round
// trip instead of two (prepare, then execute); the store's statements and
// watermill-sql's JSON columns work with it. Every connection keeps its
// queries with arguments prepared (statementCachingConnector).
func Open(ctx context.Context, databaseURL string) (*sql.DB, error) {
	cfg, err := pq.NewConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	cfg.BinaryParameters = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring database connection: %w", err)
	}
	db := sql.OpenDB(statementCachingConnector{Connector: connector, capacity: defaultStatementCacheSize})
	db.SetMaxIdleConns(maxIdleConns)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("connecting to database: %w", err), db.Close())
	}
	return db, nil
}
