package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestWatermillLoggerLogsACancelledContextAtDebugOnly(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var out bytes.Buffer
			logger := newWatermillLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level})))

			logger.Error("Error querying for message", fmt.Errorf("could not query message: %w", context.Canceled), nil)
			cancelled := out.String()
			if strings.Contains(cancelled, "level=ERROR") {
				t.Errorf("a cancelled context logged as an error: %s", cancelled)
			}
			if wantDebug := level == slog.LevelDebug; strings.Contains(cancelled, "level=DEBUG") != wantDebug {
				t.Errorf("at %s, debug line present = %v: %q", level, !wantDebug, cancelled)
			}

			out.Reset()
			logger.Error("Error querying for message", errors.New("connection refused"), nil)
			if !strings.Contains(out.String(), "level=ERROR") || !strings.Contains(out.String(), "connection refused") {
				t.Errorf("a real error not logged as one: %q", out.String())
			}
		})
	}
}
