package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
