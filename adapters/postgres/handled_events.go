package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// PostgresHandledEvents is app.HandledEvents in the handled_events table,
// shared by every instance of the service.
type PostgresHandledEvents struct {
	db *sql.DB
}

func NewPostgresHandledEvents(db *sql.DB) *PostgresHandledEvents {
	return &PostgresHandledEvents{db: db}
}

func (h *PostgresHandledEvents) Handled(ctx context.Context, handler, eventID string) (bool, error) {
	var one int
	err := h.db.QueryRowContext(ctx, `SELECT 1 FROM handled_events WHERE handler = $1 AND event_id = $2`, handler, eventID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, asUnavailable(fmt.Errorf("checking handled event %s: %w", eventID, err))
	}
	return true, nil
}

func (h *PostgresHandledEvents) MarkHandled(ctx context.Context, handler, eventID string) error {
	_, err := h.db.ExecContext(ctx, `INSERT INTO handled_events (handler, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, handler, eventID)
	if err != nil {
		return asUnavailable(fmt.Errorf("recording handled event %s: %w", eventID, err))
	}
	return nil
}
