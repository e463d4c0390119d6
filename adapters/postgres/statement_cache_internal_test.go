package postgres

import (
	"context"
	"database/sql"
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
	rows, err := conn.QueryContext(ctx, `SELECT statement FROM pg_prepared_statements ORDER BY statement`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if want := []string{`SELECT $1::int + 10`, `SELECT $1::int + 30`}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("prepared statements %v, want %v", got, want)
	}
}
