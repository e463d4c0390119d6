package tests

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/adapters/postgres"
	"allocation/tests/testenv"
)

// SIGTERM stops taking requests but finishes the one in flight: the
// request is held inside its transaction by a row lock the test owns, the
// service is told to stop, the listener closes, the lock is released, the
// request completes with 201 and the process exits 0.
func TestSIGTERMFinishesTheRequestInFlight(t *testing.T) {
	databaseURL := testenv.DatabaseURL(t)
	p := startService(t, binary.get(t), map[string]string{
		"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": databaseURL,
		"REDIS_ADDR": testenv.RedisAddr(t), "TOPIC_PREFIX": testenv.TopicPrefix(),
	})
	sku := "held-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 5, "")

	db, err := postgres.Open(t.Context(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback() }()
	if _, err := lock.Exec(`SELECT 1 FROM products WHERE sku = $1 FOR UPDATE`, sku); err != nil {
		t.Fatal(err)
	}
	var lockPID int
	if err := lock.QueryRow(`SELECT pg_backend_pid()`).Scan(&lockPID); err != nil {
		t.Fatal(err)
	}

	status := make(chan int, 1)
	go func() { status <- postQuiet(p.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":1}`) }()
	waitUntil(t, 30*time.Second, "the request to wait on the row lock", func() bool {
		return sessionsBlockedBy(t, db, lockPID) > 0
	})

	p.signal(syscall.SIGTERM)
	waitUntil(t, 30*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", p.URL[len("http://"):], time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case s := <-status:
		t.Fatalf("the request in flight ended with %d before its transaction could finish", s)
	default:
	}
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-status:
		if s != http.StatusCreated {
			t.Fatalf("request in flight = %d, want 201", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request in flight never finished")
	}
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// sessionsBlockedBy counts sessions waiting on a lock held by backend pid.
func sessionsBlockedBy(t *testing.T, db *sql.DB, pid int) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
