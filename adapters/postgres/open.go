package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
func Open(ctx context.Context, databaseURL string, options ...OpenOption) (*sql.DB, error) {
	return open(ctx, databaseURL, func(*pq.Config) {}, options)
}

// OpenOption configures Open.
type OpenOption func(*openSettings)

type openSettings struct {
	responseTimeout time.Duration
}

// WithResponseTimeout bounds connecting and each wait for the server's
// answer (DefaultResponseTimeout otherwise).
func WithResponseTimeout(d time.Duration) OpenOption {
	return func(s *openSettings) { s.responseTimeout = d }
}

// OpenAsynchronousCommit is Open with synchronous_commit off on every
// connection: COMMIT returns once the transaction is in PostgreSQL's
// write-ahead log buffer, before the log is flushed to disk (about 0.1 ms
// instead of 0.25 ms per commit on an idle machine here). A crash of the
// database server (not of the service) can lose the last transactions
// that were committed this way; it cannot corrupt anything or make a
// later transaction survive without them, because the log is flushed in
// order. So use it only for writes that some later synchronous commit
// vouches for: on the SQL broker, an event handler's writes are followed
// by the subscriber's acknowledgement, committed synchronously, and once
// that is on disk so is everything the handler committed before it; if the
// acknowledgement is lost too, the event is delivered again. Unless the
// URL names one, the pool's connections carry the application_name
// AsynchronousCommitApplicationName, so that pg_stat_activity tells them apart.
func OpenAsynchronousCommit(ctx context.Context, databaseURL string, options ...OpenOption) (*sql.DB, error) {
	return open(ctx, databaseURL, func(cfg *pq.Config) {
		runtime := make(map[string]string, len(cfg.Runtime)+1)
		for k, v := range cfg.Runtime {
			runtime[k] = v
		}
		runtime["synchronous_commit"] = "off"
		cfg.Runtime = runtime
		if cfg.ApplicationName == "" {
			cfg.ApplicationName = AsynchronousCommitApplicationName
		}
	}, options)
}

// AsynchronousCommitApplicationName is the application_name of
// OpenAsynchronousCommit's connections.
const AsynchronousCommitApplicationName = "allocation-event-handlers"

func open(ctx context.Context, databaseURL string, configure func(*pq.Config), options []OpenOption) (*sql.DB, error) {
	settings := openSettings{responseTimeout: DefaultResponseTimeout}
	for _, option := range options {
		option(&settings)
	}
	cfg, err := pq.NewConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	cfg.BinaryParameters = true
	// Connecting to a server that accepts TCP and never answers would hang
	// start-up; the URL's connect_timeout wins when it has one.
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = settings.responseTimeout
	}
	configure(&cfg)
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring database connection: %w", err)
	}
	connector.Dialer(responseDeadlineDialer{timeout: settings.responseTimeout})
	db := sql.OpenDB(statementCachingConnector{Connector: connector, capacity: defaultStatementCacheSize})
	db.SetMaxIdleConns(maxIdleConns)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(asUnavailable(fmt.Errorf("connecting to database: %w", err)), db.Close())
	}
	return db, nil
}
