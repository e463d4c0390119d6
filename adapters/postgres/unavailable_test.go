package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/tests/testenv"
)

// openThroughProxy opens the store on a fresh schema through a proxy the
// test can freeze.
func openThroughProxy(t *testing.T, responseTimeout time.Duration) (*testenv.Proxy, *sql.DB) {
	t.Helper()
	proxy, through, _ := testenv.ProxiedDatabase(t)
	db, err := postgres.Open(context.Background(), through, postgres.WithResponseTimeout(responseTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return proxy, db
}

// Connecting to a server that never answers ends at the response timeout
// with an error that says the database is unavailable.
func TestOpenGivesUpOnASilentServer(t *testing.T) {
	t.Parallel()
	proxy, through, _ := testenv.ProxiedDatabase(t)
	proxy.Freeze()
	started := time.Now()
	_, err := postgres.Open(context.Background(), through, postgres.WithResponseTimeout(300*time.Millisecond))
	if !app.IsUnavailable(err) {
		t.Fatalf("err = %v, want app.UnavailableError", err)
	}
	if waited := time.Since(started); waited > 5*time.Second {
		t.Errorf("Open took %s against a silent server", waited)
	}
}

// A connection whose server stops answering mid-session fails its query
// at the response timeout instead of blocking for ever; the store reports
// the database as unavailable.
func TestAQueryOnAFrozenServerFailsAtTheResponseTimeout(t *testing.T) {
	t.Parallel()
	proxy, db := openThroughProxy(t, 500*time.Millisecond)
	db.SetMaxOpenConns(1)
	var one int
	if err := db.QueryRowContext(context.Background(), `SELECT 1`).Scan(&one); err != nil {
		t.Fatalf("query before the freeze: %v", err)
	}
	proxy.Freeze()
	done := make(chan error, 1)
	go func() { done <- db.QueryRowContext(context.Background(), `SELECT 1`).Scan(&one) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("query through a frozen server succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("query through a frozen server still blocked after 10 s")
	}
}

func TestUnavailableIsTheDatabaseBeingAwayNotABadStatement(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	view := postgres.NewPostgresAllocationsView(db)
	if _, err := view.AllocationsFor(context.Background(), "o1"); err != nil {
		t.Fatalf("AllocationsFor: %v", err)
	}
	// A statement the database refuses for its own reason is not an outage.
	_, err := db.ExecContext(context.Background(), `SELECT * FROM no_such_table`)
	if err == nil || app.IsUnavailable(err) {
		t.Fatalf("err = %v, want a plain error", err)
	}
	// A server that refuses connections is.
	_, err = postgres.Open(context.Background(), "postgres://postgres@"+testenv.FreeAddr(t)+"/postgres?sslmode=disable")
	if !app.IsUnavailable(err) {
		t.Errorf("err = %v, want app.UnavailableError", err)
	}
}

// A read of the read model returns at its caller's deadline while the
// database is frozen, not at the response timeout: lib/pq alone would
// wait for the frozen server to answer its cancel request too.
func TestAReadReturnsAtItsDeadlineWhileTheDatabaseIsFrozen(t *testing.T) {
	t.Parallel()
	// The query never reaches the server, so the schema needs no tables.
	proxy, db := openThroughProxy(t, 30*time.Second)
	view := postgres.NewPostgresAllocationsView(db)
	proxy.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := view.AllocationsFor(ctx, "o1")
	if !app.IsUnavailable(err) {
		t.Errorf("err = %v, want app.UnavailableError", err)
	}
	if waited := time.Since(started); waited > 5*time.Second {
		t.Errorf("AllocationsFor returned after %s with a 300ms deadline", waited)
	}
}
