package postgres

import (
	"context"
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

// outboxEvent is a row of the outbox as the relay publishes it.
type outboxEvent struct {
	offset int64
	topic  string
	msg    *message.Message
}

// readOutboxBatch reads the oldest events of the outbox, in the order they
// were stored.
func readOutboxBatch(ctx context.Context, tx *sql.Tx) ([]outboxEvent, error) {
	rows, err := tx.QueryContext(ctx, `SELECT "offset", uuid, topic, payload, metadata FROM outbox ORDER BY "offset" LIMIT $1`, relayBatchSize)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	defer rows.Close()
	var batch []outboxEvent
	for rows.Next() {
		var (
			e        outboxEvent
			uuid     string
			payload  []byte
			metadata []byte
		)
		if err := rows.Scan(&e.offset, &uuid, &e.topic, &payload, &metadata); err != nil {
			return nil, fmt.Errorf("reading the outbox: %w", err)
		}
		e.msg = message.NewMessage(uuid, payload)
		if err := json.Unmarshal(metadata, &e.msg.Metadata); err != nil {
			return nil, fmt.Errorf("decoding the metadata of event %s: %w", uuid, err)
		}
		if e.msg.Metadata == nil {
			e.msg.Metadata = message.Metadata{}
		}
		batch = append(batch, e)
	}
	return batch, rows.Err()
}
