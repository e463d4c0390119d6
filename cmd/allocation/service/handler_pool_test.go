package service

import (
	"database/sql"
	"io"
	"log/slog"
	"testing"

	"github.com/gin-gonic/gin"

	"allocation/config"
	"allocation/tests/testenv"
)

func newServiceForTest(t *testing.T, env map[string]string) *Service {
	t.Helper()
	cfg, err := config.Load("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.resources.close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})
	return s
}

func synchronousCommit(t *testing.T, db *sql.DB) string {
	t.Helper()
	var value string
	if err := db.QueryRowContext(t.Context(), `SELECT current_setting('synchronous_commit')`).Scan(&value); err != nil {
		t.Fatal(err)
	}
	return value
}

// On the SQL broker the event handlers' writes commit asynchronously (the
// subscriber's synchronous acknowledgement vouches for them); on any other
// broker the acknowledgement is not in PostgreSQL, so they must not.
func TestEventHandlersWriteWithAsynchronousCommitOnlyOnTheSQLBroker(t *testing.T) {
	gin.SetMode(gin.TestMode)
	t.Run("sql", func(t *testing.T) {
		s := newServiceForTest(t, map[string]string{
			"STORE": "postgres", "BROKER": "sql", "DATABASE_URL": testenv.DatabaseURL(t),
		})
		if s.handlerWrites == s.db {
			t.Fatal("event handlers do not write through a pool of their own")
		}
		if got := synchronousCommit(t, s.handlerWrites); got != "off" {
			t.Errorf("event handlers' pool: synchronous_commit = %q, want off", got)
		}
		if got := synchronousCommit(t, s.db); got != "on" {
			t.Errorf("store's pool: synchronous_commit = %q, want on", got)
		}
	})
	t.Run("redis", func(t *testing.T) {
		s := newServiceForTest(t, map[string]string{
			"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": testenv.DatabaseURL(t),
			"REDIS_ADDR": testenv.RedisAddr(t), "TOPIC_PREFIX": testenv.TopicPrefix(),
		})
		if s.handlerWrites != s.db {
			t.Fatal("event handlers write through another pool than the store's")
		}
		if got := synchronousCommit(t, s.handlerWrites); got != "on" {
			t.Errorf("event handlers' pool: synchronous_commit = %q, want on", got)
		}
	})
}
