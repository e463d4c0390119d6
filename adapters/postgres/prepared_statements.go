package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// preparedStatements prepares each query once and keeps it: database/sql
// then prepares it on every pooled connection the first time that
// connection runs it, and later runs skip PostgreSQL's parse and plan.
// Parsing and planning were a third of PostgreSQL's CPU under the
// benchmark's load (perf, BENCHMARKS.md). The zero value is not usable:
// see newPreparedStatements.
type preparedStatements struct {
	db      *sql.DB
	mu      sync.Mutex
	byQuery map[string]*sql.Stmt
}

func newPreparedStatements(db *sql.DB) *preparedStatements {
	return &preparedStatements{db: db, byQuery: map[string]*sql.Stmt{}}
}

// get returns the statement of query, preparing it on first use. A failed
// prepare is not kept, so the next call tries again.
func (p *preparedStatements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if stmt, ok := p.byQuery[query]; ok {
		return stmt, nil
	}
	stmt, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing statement: %w", err)
	}
	p.byQuery[query] = stmt
	return stmt, nil
}

// Close closes every prepared statement.
func (p *preparedStatements) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for query, stmt := range p.byQuery {
		errs = append(errs, stmt.Close())
		delete(p.byQuery, query)
	}
	return errors.Join(errs...)
}
