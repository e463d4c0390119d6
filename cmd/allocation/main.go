// Command allocation runs the stock allocation service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"allocation/adapters/logging"
	"allocation/cmd/allocation/service"
	"allocation/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "poison" {
		return runPoison(args[1:], getenv, stdout, stderr)
	}
	cfg, err := config.Load("allocation", args, getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "allocation: configuration: %v\n", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	service.RouteRedisLibraryLog(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	shutdownTracing, err := service.SetUpTracing(ctx, getenv, logger)
	if err != nil {
		logger.Error("allocation service could not start", "error", err)
		return 1
	}
	defer flushTraces(shutdownTracing, logger)
	if err := service.Run(ctx, cfg, logger); err != nil {
		logger.Error("allocation service stopped", "error", err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(logging.NewContextHandler(h))
}

// flushTraces exports the spans still buffered, for at most 5 s.
func flushTraces(shutdown func(context.Context) error, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		logger.Warn("flushing traces", "error", err)
	}
}
