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
// binary_parameters mode so that a query with arguments takes one round
// trip instead of two (prepare, then execute).
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

// OpenAsynchronousCommit is Open with synchronous_commit off, for writes
// that a later synchronous commit vouches for: a crash of the database
// server loses only the last such commits, and the log is flushed in order,
// so an SQL subscriber's acknowledgement on disk implies the handler's
// writes before it (and a lost acknowledgement means a redelivery). Its
// connections carry AsynchronousCommitApplicationName unless the URL names
// one, so that pg_stat_activity tells them apart.
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
