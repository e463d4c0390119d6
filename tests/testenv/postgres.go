package testenv

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq" // also the PostgreSQL driver behind database/sql
)

// DatabaseURL returns a URL whose connections use a schema of their own,
// created now and dropped when the test ends, so that parallel tests and
// services never see each other's rows, topics or offsets.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	requireIntegration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db := openBase(ctx, t)
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, dropErr := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		if err := errors.Join(dropErr, db.Close()); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(BaseDatabaseURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Database is a connection pool to a fresh schema (DatabaseURL), closed
// when the test ends.
func Database(t testing.TB) *sql.DB {
	t.Helper()
	return Open(t, DatabaseURL(t))
}

// BaseDatabase is a connection pool to the test database itself, created
// if missing, for tests that keep to tables named their own (several pools
// of one test then see the same tables); closed when the test ends.
func BaseDatabase(t testing.TB) *sql.DB {
	t.Helper()
	requireIntegration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db := openBase(ctx, t)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Open connects to databaseURL with plain lib/pq, for a test to look at
// the data; the pool is closed when the test ends.
func Open(t testing.TB, databaseURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		unreachable(t, "PostgreSQL", err)
	}
	return db
}

// openBase connects to the test database, creating it when it is missing.
func openBase(ctx context.Context, t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", BaseDatabaseURL())
	if err == nil {
		err = db.PingContext(ctx)
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "3D000" { // invalid_catalog_name
		createBaseDatabase(ctx, t)
		err = db.PingContext(ctx)
	}
	if err != nil {
		unreachable(t, "PostgreSQL at "+BaseDatabaseURL(), err)
	}
	return db
}

func createBaseDatabase(ctx context.Context, t testing.TB) {
	t.Helper()
	u, err := url.Parse(BaseDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	// Parallel tests may race to create it: already there is fine.
	if err != nil && !(errors.As(err, &pqErr) && (pqErr.Code == "42P04" || pqErr.Code == "23505")) {
		t.Fatalf("creating database %s: %v", name, err)
	}
}
