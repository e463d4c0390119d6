package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// outboxBacklogAge is how long the oldest event not yet relayed has waited:
// those after the relay's acknowledged position, in the order watermill-sql
// reads them (transaction id, then offset). One index range scan.
const outboxBacklogAge = `
SELECT coalesce(extract(epoch FROM localtimestamp - min(m.created_at)), 0)
FROM "watermill_` + OutboxTopic + `" m
LEFT JOIN "watermill_offsets_` + OutboxTopic + `" o ON o.consumer_group = $1
WHERE o.consumer_group IS NULL OR (m.transaction_id, m."offset") > (o.last_processed_transaction_id, o.offset_acked)`

// OutboxBacklogAge tells how long the oldest committed event has waited for
// the outbox relay; 0 when nothing waits.
func OutboxBacklogAge(ctx context.Context, db *sql.DB) (time.Duration, error) {
	var seconds float64
	if err := db.QueryRowContext(ctx, outboxBacklogAge, outboxConsumerGroup).Scan(&seconds); err != nil {
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
