package tests

import (
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// SIGTERM stops taking requests but finishes the one in flight: the
// request is held inside its transaction by a row lock the test owns, the
// service is told to stop, the listener closes, the lock is released, the
// request completes with 201 and the process exits 0.
func TestSIGTERMFinishesTheRequestInFlight(t *testing.T) {
	env := postgresEnv(t, "redis", testenv.DatabaseURL(t))
	p := startService(t, env)
	sku := "held-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 5, "")

	db := testenv.Open(t, env["DATABASE_URL"])
	lock, lockPID := lockProduct(t, db, sku)

	status := make(chan int, 1)
	go func() {
		status <- timedCall("POST", p.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":1}`).status
	}()
	testenv.Eventually(t, 30*time.Second, "the request to wait on the row lock", func() bool {
		return sessionsBlockedBy(t, db, lockPID) > 0
	})

	p.Signal(syscall.SIGTERM)
	testenv.Eventually(t, 30*time.Second, "the listener to close", func() bool {
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
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
