package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"allocation/app"
)

func TestContextHandlerAddsTheCorrelationID(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(NewContextHandler(slog.NewJSONHandler(&out, nil))).With("component", "test")
	logger.InfoContext(app.WithCorrelationID(context.Background(), "corr-9"), "hello")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["correlation_id"] != "corr-9" || line["component"] != "test" {
		t.Fatalf("line = %v", line)
	}
	out.Reset()
	logger.Info("no context")
	if bytes.Contains(out.Bytes(), []byte("correlation_id")) {
		t.Fatalf("correlation id without one in the context: %s", out.String())
	}
}

// Each attribute once per line: the correlation id a caller logs itself, a
// key given by With and again in the call, an error passed twice.
func TestContextHandlerKeepsEachAttributeOnce(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(NewContextHandler(slog.NewTextHandler(&out, nil))).With("handler", "h1")
	ctx := app.WithCorrelationID(context.Background(), "corr-1")
	logger.WarnContext(ctx, "failed", "correlation_id", "corr-1", "err", "boom", "err", "boom", "handler", "h1")
	line := out.String()
	for _, key := range []string{"correlation_id=", "err=", "handler="} {
		if n := strings.Count(line, key); n != 1 {
			t.Errorf("%s %d times in %s", key, n, line)
		}
	}
}
