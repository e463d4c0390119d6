package postgres

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/lib/pq"

	"allocation/tests/testenv"
)

func TestStatementCacheClosesTheLeastRecentlyUsedWhenFull(t *testing.T) {
	if testenv.SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
	cfg, err := pq.NewConfig(testenv.BaseDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.BinaryParameters = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(statementCachingConnector{Connector: connector, capacity: 2})
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	queries := []string{`SELECT $1::int + 10`, `SELECT $1::int + 20`, `SELECT $1::int + 10`, `SELECT $1::int + 30`}
	for _, q := range queries {
		if _, err := conn.ExecContext(ctx, q, 1); err != nil {
			t.Fatal(err)
		}
	}
	// +10, +20, +10 (used again), +30: +20 was the least recently used.
	var got pq.StringArray
	if err := conn.QueryRowContext(ctx, `SELECT array_agg(statement ORDER BY statement) FROM pg_prepared_statements`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := []string{`SELECT $1::int + 10`, `SELECT $1::int + 30`}; !slices.Equal(got, want) {
		t.Fatalf("prepared statements %v, want %v", got, want)
	}
}
