package postgres

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
)

// RelayedOutbox stores events in the outbox table in the command's
// transaction (BROKER=memory or redis); the relay made by NewOutboxRelay
// publishes them to their topics after commit.
func RelayedOutbox(tx *sql.Tx) (message.Publisher, error) { return outboxWriter{tx: tx}, nil }

type outboxWriter struct{ tx *sql.Tx }

const insertOutboxRow = `INSERT INTO outbox (uuid, topic, payload, metadata) VALUES ($1, $2, $3, $4)`

func (w outboxWriter) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		metadata, err := json.Marshal(m.Metadata)
		if err != nil {
			return fmt.Errorf("encoding the metadata of event %s: %w", m.UUID, err)
		}
		if _, err := w.tx.ExecContext(m.Context(), insertOutboxRow, m.UUID, topic, m.Payload, string(metadata)); err != nil {
			return fmt.Errorf("storing event %s in the outbox: %w", m.UUID, err)
		}
	}
	return nil
}

func (outboxWriter) Close() error { return nil }
