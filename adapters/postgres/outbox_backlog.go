package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// outboxBacklogAge is how long the oldest event of the outbox has waited
// (the lowest offset, found on the primary key's index).
const outboxBacklogAge = `
SELECT coalesce(extract(epoch FROM statement_timestamp() - (SELECT created_at FROM outbox ORDER BY "offset" LIMIT 1)), 0)`

// OutboxBacklogAge tells how long the oldest committed event has waited for
// the outbox relay; 0 when nothing waits.
func OutboxBacklogAge(ctx context.Context, db *sql.DB) (time.Duration, error) {
	var seconds float64
	if err := db.QueryRowContext(ctx, outboxBacklogAge).Scan(&seconds); err != nil {
		return 0, asUnavailable(fmt.Errorf("reading the outbox backlog: %w", err))
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

// OutboxBacklogTooOldError is a readiness failure: events committed that
// long ago have not reached the broker.
type OutboxBacklogTooOldError struct {
	Age, Limit time.Duration
}

func (e OutboxBacklogTooOldError) Error() string {
	return fmt.Sprintf("the oldest event waiting for the outbox relay has waited %s (more than %s)", e.Age.Round(time.Millisecond), e.Limit)
}

// OutboxReadiness fails while an event has waited for the relay longer
// than limit: the broker is away or the relay has stopped, and other
// services are not hearing about allocations.
func OutboxReadiness(db *sql.DB, limit time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		age, err := OutboxBacklogAge(ctx, db)
		if err != nil {
			return err
		}
		if age > limit {
			return OutboxBacklogTooOldError{Age: age, Limit: limit}
		}
		return nil
	}
}
