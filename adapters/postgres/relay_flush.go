package postgres

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// flushingOffsetsAdapter completes the destination's publishing before the
// relay records a batch as relayed. watermill-sql's subscriber hands the
// relay a batch's messages one by one and then, in the batch's
// transaction, runs the query AckMessageQuery returns and commits: asking
// for that query is the one moment at which every message of the batch has
// been given to the destination and none is yet recorded as relayed. So
// the flush happens there. When it fails, the query returned fails too:
// the transaction rolls back, the offset stays, and the batch is read and
// published again (some of it twice; consumers de-duplicate by UUID).
type flushingOffsetsAdapter struct {
	watermillsql.OffsetsAdapter
	flush  func(context.Context) error
	logger watermill.LoggerAdapter
}

// relayFlushTimeout bounds one flush; the relay retries after its backoff.
const relayFlushTimeout = 10 * time.Second

// failedFlushQuery fails, so that the batch's offset is not recorded.
const failedFlushQuery = `DO $$ BEGIN RAISE EXCEPTION 'outbox relay: the batch could not be published; it will be relayed again'; END $$`

func (a flushingOffsetsAdapter) AckMessageQuery(topic string, row watermillsql.Row, consumerGroup string) watermillsql.Query {
	ctx, cancel := context.WithTimeout(context.Background(), relayFlushTimeout)
	defer cancel()
	if err := a.flush(ctx); err != nil {
		a.logger.Error("Outbox relay could not publish a batch; it will be relayed again", err, nil)
		return watermillsql.Query{Query: failedFlushQuery}
	}
	return a.OffsetsAdapter.AckMessageQuery(topic, row, consumerGroup)
}
