package tests

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/lib/pq"

	"allocation/adapters/pubsub"
	"allocation/tests/testenv"
)

// newSQLClient is another service on the SQL broker of databaseURL.
func newSQLClient(t *testing.T, databaseURL string) outsideClient {
	ps, err := pubsub.NewSQLPubSub(testenv.Open(t, databaseURL), pubsub.SQLConfig{PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return newWatermillClient(t, ps.Publisher(), ps.Subscriber)
}

// sqlBacklog counts, for each consumer group of each topic (one offsets
// table "watermill_offsets_<topic>" per topic, a row per group), the
// messages after its acked position in the order watermill-sql reads them:
// (transaction_id, offset).
func sqlBacklog(t *testing.T, db *sql.DB) (string, int) {
	t.Helper()
	ctx := t.Context()
	topics := queryStrings(t, db, `SELECT substr(table_name, length('watermill_offsets_') + 1) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name LIKE 'watermill\_offsets\_%'`)
	var (
		backlog []string
		count   int
	)
	for _, topic := range topics {
		messages, offsets := pq.QuoteIdentifier("watermill_"+topic), pq.QuoteIdentifier("watermill_offsets_"+topic)
		rows, err := db.QueryContext(ctx, `SELECT o.consumer_group, count(m.*) FROM `+offsets+` o
			LEFT JOIN `+messages+` m ON m.transaction_id > o.last_processed_transaction_id
				OR (m.transaction_id = o.last_processed_transaction_id AND m."offset" > o.offset_acked)
			GROUP BY o.consumer_group`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				group string
				n     int
			)
			if err := rows.Scan(&group, &n); err != nil {
				t.Fatal(err)
			}
			if count++; n == 0 {
				continue
			}
			backlog = append(backlog, fmt.Sprintf("%s group %s: %d messages", topic, group, n))
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(backlog, "; "), count
}
