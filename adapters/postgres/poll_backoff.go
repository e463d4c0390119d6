package postgres

import (
	"time"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// BatchingBackoff is the polling policy of a watermill-sql subscriber that
// also waits after a query that found messages. The library's default
// queries again at once, which under steady load means a transaction
// (BEGIN, SELECT, ack UPDATE, COMMIT) for every one or two messages;
// waiting lets messages gather so that one transaction takes many.
// An idle subscriber still polls every pollInterval, and a message never
// waits longer than one interval either way.
type BatchingBackoff struct {
	next   watermillsql.BackoffManager
	gather time.Duration
}

// NewBatchingBackoff polls every pollInterval, waits gather after a query
// that found messages and retryInterval after an error (a deadlock is
// retried at once, like the library's default).
func NewBatchingBackoff(pollInterval, gather, retryInterval time.Duration) BatchingBackoff {
	return BatchingBackoff{next: watermillsql.NewDefaultBackoffManager(pollInterval, retryInterval), gather: gather}
}

func (b BatchingBackoff) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	wait := b.next.HandleError(logger, noMsg, err)
	if err == nil && !noMsg {
		return b.gather
	}
	return wait
}
