package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// readModelServer answers GET /allocations/{order} with 404 until the
// third request, then with status.
func readModelServer(t *testing.T, status int) (*load, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/allocations/o1" {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return newLoad(options{concurrency: 1}, srv.URL), &calls
}

func TestWaitForReadModelReturnsWhenTheOrderShows(t *testing.T) {
	l, calls := readModelServer(t, http.StatusOK)
	at, err := waitForReadModel(context.Background(), l, "o1", time.Now().Add(10*time.Second))
	if err != nil || at.IsZero() {
		t.Fatalf("waitForReadModel = %v, %v; want a time", at, err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d requests, want 3 (two 404s, then 200)", n)
	}
}

func TestWaitForReadModelGivesUpAtTheDeadline(t *testing.T) {
	l, _ := readModelServer(t, http.StatusNotFound)
	at, err := waitForReadModel(context.Background(), l, "o1", time.Now().Add(50*time.Millisecond))
	if err != nil || !at.IsZero() {
		t.Fatalf("waitForReadModel = %v, %v; want the zero time: never shown", at, err)
	}
}

func TestWaitForReadModelFailsOnAnUnexpectedAnswer(t *testing.T) {
	l, _ := readModelServer(t, http.StatusInternalServerError)
	if _, err := waitForReadModel(context.Background(), l, "o1", time.Now().Add(10*time.Second)); err == nil {
		t.Fatal("a 500 was taken for a wait")
	}
}
