package pubsub

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lib/pq"

	"allocation/adapters/internal/sqltopics"
	"allocation/adapters/messagebus"
	"allocation/app"
)

// SQLPoisonQueue is the poison queue on the SQL broker: the rows of the
// messages table of topic topicPrefix+messagebus.PoisonTopic, which the router's
// PoisonQueue middleware writes. A parked message's ID is its "offset"
// column, in decimal.
//
// Replay moves a message in one transaction: the row is deleted from the
// poison table and inserted into the original topic's table together, so
// a crash never loses nor duplicates it, and two replays of one message
// cannot both succeed (the second finds the row gone).
type SQLPoisonQueue struct {
	db     *sql.DB
	prefix string
	topic  string
	table  string // quoted identifier

	// replayTopics are created before the insert's transaction, where
	// creating tables is not allowed.
	replayTopics sqltopics.Created
}

// NewSQLPoisonQueue reads the poison table in db, the broker's database
// (the caller owns it). topicPrefix is the one given to
// NewNamespacedPubSub ("" for none): the poison table is that of
// topicPrefix+messagebus.PoisonTopic and a message parked from topic T is replayed
// to the table of topicPrefix+T. It fails when those names cannot be
// tables (see InitializeSQLTopic).
func NewSQLPoisonQueue(db *sql.DB, topicPrefix string) (*SQLPoisonQueue, error) {
	if db == nil {
		return nil, errors.New("sql poison queue: no database")
	}
	topic := topicPrefix + messagebus.PoisonTopic
	if err := checkSQLTopicName(topic); err != nil {
		return nil, err
	}
	return &SQLPoisonQueue{
		db:     db,
		prefix: topicPrefix,
		topic:  topic,
		// Quoted by the schema adapter; checkSQLTopicName keeps quotes out.
		table: SQLSchemaAdapter(0).MessagesTable(topic),
	}, nil
}

// List returns one page of parked messages, oldest first. Before anything
// was ever parked the table does not exist, and the list is empty.
func (q *SQLPoisonQueue) List(ctx context.Context, page app.PoisonPage) ([]app.ParkedMessage, error) {
	after := int64(0)
	if page.After != "" {
		n, err := strconv.ParseInt(page.After, 10, 64)
		if err != nil || n < 0 {
			return nil, app.PoisonCursorError{After: page.After}
		}
		after = n
	}
	return q.query(ctx, `WHERE "offset" > $1`, " LIMIT $2", after, page.EffectiveLimit())
}

// query reads parked messages, all or those matching where, up to limit
// ("" or a LIMIT clause).
func (q *SQLPoisonQueue) query(ctx context.Context, where, limit string, args ...any) ([]app.ParkedMessage, error) {
	// created_at is a timestamp without time zone, written as local time
	// in the writer's session time zone (CURRENT_TIMESTAMP); read back as
	// an instant, assuming the same zone. It is only the fallback when
	// parked_at metadata is missing.
	rows, err := q.db.QueryContext(ctx, `SELECT "offset", uuid, payload, metadata,
		created_at AT TIME ZONE current_setting('TimeZone')
		FROM `+q.table+` `+where+` ORDER BY "offset"`+limit, args...)
	if isUndefinedTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the poison queue %s: %w", q.topic, err)
	}
	defer func() { _ = rows.Close() }()
	var parked []app.ParkedMessage
	for rows.Next() {
		var (
			offset            int64
			uuid              string
			payload, metadata []byte
			createdAt         time.Time
		)
		if err := rows.Scan(&offset, &uuid, &payload, &metadata, &createdAt); err != nil {
			return nil, fmt.Errorf("reading the poison queue %s: %w", q.topic, err)
		}
		msg := message.NewMessage(uuid, payload)
		if metadata != nil {
			if err := json.Unmarshal(metadata, &msg.Metadata); err != nil {
				return nil, fmt.Errorf("reading the poison queue %s: message %d: metadata: %w", q.topic, offset, err)
			}
		}
		if msg.Metadata == nil { // JSON null
			msg.Metadata = message.Metadata{}
		}
		parkedAt, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(messagebus.ParkedAtKey))
		if err != nil {
			parkedAt = createdAt.UTC()
		}
		parked = append(parked, messagebus.ParkedFromMessage(strconv.FormatInt(offset, 10), msg, parkedAt))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the poison queue %s: %w", q.topic, err)
	}
	return parked, nil
}

// isUndefinedTable tells a missing table (42P01) apart from other errors.
func isUndefinedTable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "42P01"
}

// Replay sends parked messages back to their topics, each in a
// transaction that also deletes it from the poison table
// (messagebus.ReplayParked).
func (q *SQLPoisonQueue) Replay(ctx context.Context, ids []string) ([]string, error) {
	return messagebus.ReplayParked(ctx, ids, q.choose, q.replay)
}

func (q *SQLPoisonQueue) choose(ctx context.Context, ids []string) ([]app.ParkedMessage, error) {
	if len(ids) == 0 {
		return q.query(ctx, "", "")
	}
	var offsets []int64
	seen := map[string]bool{}
	for _, id := range ids {
		offset, err := strconv.ParseInt(id, 10, 64)
		if err != nil || strconv.FormatInt(offset, 10) != id {
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		if !seen[id] {
			seen[id] = true
			offsets = append(offsets, offset)
		}
	}
	found, err := q.query(ctx, `WHERE "offset" = ANY($1)`, "", pq.Array(offsets))
	if err != nil {
		return nil, err
	}
	byID := map[string]app.ParkedMessage{}
	for _, p := range found {
		byID[p.ID] = p
	}
	chosen := make([]app.ParkedMessage, 0, len(offsets))
	for _, offset := range offsets {
		id := strconv.FormatInt(offset, 10)
		p, ok := byID[id]
		if !ok {
			return nil, app.UnknownParkedMessageError{ID: id}
		}
		chosen = append(chosen, p)
	}
	return chosen, nil
}

// replay moves one message in one transaction.
func (q *SQLPoisonQueue) replay(ctx context.Context, p app.ParkedMessage) error {
	topic, msg, err := replayTarget(p)
	if err != nil {
		return err
	}
	target := q.prefix + topic
	if err := q.replayTopics.Ensure(ctx, q.db, target); err != nil {
		return err
	}
	if len(msg.Payload) == 0 {
		// The payload column is JSON: NULL, not an empty string (as sqlPublisher).
		msg.Payload = nil
	}
	insert, err := SQLSchemaAdapter(0).InsertQuery(target, message.Messages{msg})
	if err != nil {
		return err
	}

	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// Rows are never updated, so the copy read before is still the row;
	// the delete locks it, and a concurrent replay of it deletes nothing.
	res, err := tx.ExecContext(ctx, `DELETE FROM `+q.table+` WHERE "offset" = $1`, p.ID)
	if err != nil {
		return fmt.Errorf("removing from the poison queue: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return cmp.Or(err, messagebus.ErrNoLongerParked)
	}
	if _, err := tx.ExecContext(ctx, insert.Query, insert.Args...); err != nil {
		return fmt.Errorf("publishing to %s: %w", target, err)
	}
	return tx.Commit()
}
