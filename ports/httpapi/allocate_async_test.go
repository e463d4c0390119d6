package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"allocation/adapters/memory"
	"allocation/adapters/notify"
	"allocation/app"
	"allocation/ports/httpapi"
)

// commandSender is a command bus whose broker is away: it fails, or it
// blocks until its context ends.
type commandSender struct{ err error }

func (s commandSender) Send(ctx context.Context, _ any) error {
	if s.err != nil {
		return s.err
	}
	<-ctx.Done()
	return ctx.Err()
}

// newAsyncHandler serves the API on the in-memory store, sending commands
// with sender.
func newAsyncHandler(t *testing.T, sender app.CommandSender, timeout time.Duration) http.Handler {
	application, err := app.NewApplication(app.Dependencies{
		UnitOfWork:    memory.NewUnitOfWork(nil),
		View:          memory.NewAllocationsView(),
		Notifier:      notify.NewLogNotifier(slog.Default()),
		HandledEvents: memory.NewHandledEvents(10),
		Commands:      sender,
	})
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.NewHandler(httpapi.Config{App: application, Commands: sender, RequestTimeout: timeout})
}

// With the broker away an asynchronous allocation is answered 503 at once
// (or at the request's deadline), naming the broker, never 500 or a hang.
func TestAsyncAllocationWithTheBrokerAwayIs503(t *testing.T) {
	for name, sender := range map[string]commandSender{
		"broker refuses": {err: errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")},
		"broker hangs":   {},
	} {
		t.Run(name, func(t *testing.T) {
			handler := newAsyncHandler(t, sender, 200*time.Millisecond)
			req := httptest.NewRequest(http.MethodPost, "/allocate", strings.NewReader(`{"orderid":"o1","sku":"LAMP","qty":1}`))
			req.Header.Set("Prefer", "respond-async")
			rec := httptest.NewRecorder()
			started := time.Now()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
			}
			var body struct{ Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Message, "broker") {
				t.Errorf("body %s, want a message naming the broker", rec.Body.String())
			}
			if waited := time.Since(started); waited > 5*time.Second {
				t.Errorf("answered after %s", waited)
			}
		})
	}
}

// countingSender counts the commands sent.
type countingSender struct{ sent *int }

func (s countingSender) Send(context.Context, any) error {
	*s.sent++
	return nil
}

// An asynchronous allocation is answered before its handler runs, so
// input the domain refuses is refused there, as on the synchronous path.
func TestAsyncAllocationOfInvalidInputIs400AndNotSent(t *testing.T) {
	sent := 0
	sender := countingSender{sent: &sent}
	handler := newAsyncHandler(t, sender, time.Second)
	for _, body := range []string{`{"orderid":"o1","sku":"LAMP","qty":0}`, `{"orderid":" ","sku":"LAMP","qty":1}`} {
		req := httptest.NewRequest(http.MethodPost, "/allocate", strings.NewReader(body))
		req.Header.Set("Prefer", "respond-async")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, rec.Code)
		}
	}
	if sent != 0 {
		t.Errorf("%d invalid commands sent", sent)
	}
}
