package postgres_test

import (
	"context"
	"database/sql"
	"testing"
)

// pinnedConn is one connection of db, so that its prepared statements
// (pg_prepared_statements is per session) can be looked at.
func pinnedConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func preparedCount(t *testing.T, conn *sql.Conn, statement string) int {
	t.Helper()
	var n int
	// No arguments: this query itself is not prepared.
	err := conn.QueryRowContext(context.Background(),
		`SELECT count(*) FROM pg_prepared_statements WHERE statement = '`+statement+`'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestQueriesWithArgumentsArePreparedOncePerConnection(t *testing.T) {
	t.Parallel()
	conn := pinnedConn(t, newEmptySchema(t))
	ctx := context.Background()
	for i := range 3 {
		var got int
		if err := conn.QueryRowContext(ctx, `SELECT $1::int + 1`, i).Scan(&got); err != nil || got != i+1 {
			t.Fatalf("run %d: got %d, %v", i, got, err)
		}
		if _, err := conn.ExecContext(ctx, `SELECT $1::int + 2`, i); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`SELECT $1::int + 1`, `SELECT $1::int + 2`} {
		if n := preparedCount(t, conn, q); n != 1 {
			t.Errorf("%q prepared %d times on the connection, want 1", q, n)
		}
	}
	if _, err := conn.ExecContext(ctx, `SELECT 42`); err != nil {
		t.Fatal(err)
	}
	if n := preparedCount(t, conn, `SELECT 42`); n != 0 {
		t.Errorf("a query without arguments was prepared")
	}
}

func TestAStatementWhoseTableChangedShapeIsPreparedAgain(t *testing.T) {
	t.Parallel()
	conn := pinnedConn(t, newEmptySchema(t))
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE shapes (id int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO shapes VALUES ($1)`, 1); err != nil {
		t.Fatal(err)
	}
	columns := func() ([]string, error) {
		rows, err := conn.QueryContext(ctx, `SELECT * FROM shapes WHERE id = $1`, 1)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return rows.Columns()
	}
	if _, err := columns(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `ALTER TABLE shapes ADD COLUMN name text`); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL refuses the stale statement once ("cached plan must not
	// change result type"); it is then forgotten and prepared again.
	got, err := columns()
	if err != nil {
		got, err = columns()
	}
	if err != nil || len(got) != 2 {
		t.Fatalf("after the table changed: columns %v, %v; want 2 columns", got, err)
	}
}
