package postgres

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// defaultStatementCacheSize bounds the prepared statements of one
// connection, well above the few dozen distinct queries the service runs.
const defaultStatementCacheSize = 256

// statementCachingConnector gives every connection a cache of prepared
// statements, as pgx does and lib/pq does not: a query with arguments is
// prepared the first time it runs on a connection, and later runs send only
// Bind and Execute, in the same single round trip, so PostgreSQL stops
// parsing and planning it every time. It is kept because it still pays:
// BenchmarkAllocate with and without it is in BENCHMARKS.md. Queries
// without arguments (BEGIN, DDL, migrations) go through unchanged.
type statementCachingConnector struct {
	driver.Connector
	capacity int
}

func (c statementCachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(libpqConn)
	if !ok {
		return nil, errors.Join(fmt.Errorf("statement cache: unexpected connection type %T", conn), conn.Close())
	}
	return &statementCachingConn{libpqConn: inner, capacity: c.capacity, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

// libpqConn is what database/sql uses of a lib/pq connection; the caching
// connection passes it all through but for QueryContext and ExecContext.
type libpqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.NamedValueChecker
	driver.SessionResetter
	driver.Validator
	driver.Pinger
}

// statementCachingConn is used by one goroutine at a time (database/sql's
// guarantee), so its cache needs no lock.
type statementCachingConn struct {
	libpqConn
	capacity int
	byQuery  map[string]*list.Element // of *cachedStatement, most recently used first in lru
	lru      *list.List
}

type cachedStatement struct {
	query string
	stmt  driver.Stmt
}

type statementRunner interface {
	driver.StmtQueryContext
	driver.StmtExecContext
}

func (c *statementCachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.libpqConn.QueryContext(ctx, query, args)
	}
	return runPrepared(ctx, c, query, func(stmt statementRunner) (driver.Rows, error) { return stmt.QueryContext(ctx, args) })
}

func (c *statementCachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.libpqConn.ExecContext(ctx, query, args)
	}
	return runPrepared(ctx, c, query, func(stmt statementRunner) (driver.Result, error) { return stmt.ExecContext(ctx, args) })
}

// runPrepared runs query's prepared statement with run, and forgets the
// statement when PostgreSQL says it went stale.
func runPrepared[R any](ctx context.Context, c *statementCachingConn, query string, run func(statementRunner) (R, error)) (R, error) {
	var none R
	stmt, err := c.statement(ctx, query)
	if err != nil {
		return none, err
	}
	r, err := run(stmt)
	if err != nil {
		c.forgetIfStale(query, err)
		return none, err
	}
	return r, nil
}

// statement returns the connection's prepared statement for query,
// preparing it (and closing the least recently used one when full) on a
// miss.
func (c *statementCachingConn) statement(ctx context.Context, query string) (statementRunner, error) {
	if e, ok := c.byQuery[query]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cachedStatement).stmt.(statementRunner), nil
	}
	stmt, err := c.libpqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	runner, ok := stmt.(statementRunner)
	if !ok {
		return nil, errors.Join(fmt.Errorf("statement cache: unexpected statement type %T", stmt), stmt.Close())
	}
	if c.lru.Len() >= c.capacity {
		if err := c.evict(c.lru.Back()); err != nil {
			return nil, errors.Join(err, stmt.Close())
		}
	}
	c.byQuery[query] = c.lru.PushFront(&cachedStatement{query: query, stmt: stmt})
	return runner, nil
}

func (c *statementCachingConn) evict(e *list.Element) error {
	cached := c.lru.Remove(e).(*cachedStatement)
	delete(c.byQuery, cached.query)
	if err := cached.stmt.Close(); err != nil {
		return fmt.Errorf("statement cache: closing a prepared statement: %w", err)
	}
	return nil
}

// forgetIfStale drops a statement PostgreSQL can no longer run as
// prepared: its tables changed shape ("cached plan must not change result
// type") or it is gone. The query fails this once; the next run prepares it
// again.
func (c *statementCachingConn) forgetIfStale(query string, err error) {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return
	}
	switch pqErr.Code {
	case "0A000", // feature_not_supported: cached plan must not change result type
		"26000": // invalid_sql_statement_name
	default:
		return
	}
	if e, ok := c.byQuery[query]; ok {
		// Closing may fail in an aborted transaction; the statement is
		// unusable anyway and goes with the connection.
		_ = c.evict(e)
	}
}
