package tests

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// The README's promise: with nothing set the service runs in memory, and
// SIGTERM stops it with exit code 0.
func TestInMemoryServiceServesAndStopsOnSIGTERM(t *testing.T) {
	p := startService(t, nil)
	if r := post(t, p.URL+"/add_batch", `{"ref":"b1","sku":"LAMP","qty":10,"eta":null}`); r.Status != http.StatusCreated {
		t.Fatalf("add_batch = %d %s", r.Status, r.Body)
	}
	r := post(t, p.URL+"/allocate", `{"orderid":"o1","sku":"LAMP","qty":3}`, "X-Correlation-ID", "e2e-1")
	if r.Status != http.StatusCreated || r.Headers.Get("X-Correlation-ID") != "e2e-1" {
		t.Fatalf("allocate = %d %s %v", r.Status, r.Body, r.Headers)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
