package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"allocation/adapters/logging"
	"allocation/cmd/allocation/service"
	"allocation/config"
)

// serveMain is "allocation-bench serve": the service with the same wiring
// (service.New) and the same HTTP server settings as cmd/allocation, plus
// net/http/pprof on PPROF_ADDR, so that -profile can take CPU profiles of
// the service under the benchmark's load without a debug endpoint in the
// production binary.
func serveMain(args []string) int {
	cfg, err := config.Load("allocation-bench serve", args, os.Getenv, os.Stderr)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "allocation-bench serve: configuration: %v\n", err)
		return 2
	}
	service.ApplyRuntimeDefaults(os.Getenv)
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	logger := slog.New(logging.NewContextHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			if err := http.ListenAndServe(addr, mux); err != nil {
				logger.Error("pprof server", "error", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, cfg, logger); err != nil {
		logger.Error("allocation service stopped", "error", err)
		return 1
	}
	return 0
}
