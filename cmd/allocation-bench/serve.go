package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

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
	if err := serveService(ctx, cfg, logger); err != nil {
		logger.Error("allocation service stopped", "error", err)
		return 1
	}
	return 0
}

// serveService is cmd/allocation's serve.
func serveService(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	gin.SetMode(gin.ReleaseMode)
	svc, err := service.New(cfg, logger)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return errors.Join(err, svc.Stop())
	}
	listener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return errors.Join(err, svc.Stop())
	}
	server := &http.Server{Handler: svc.Handler, ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- server.Serve(listener) }()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-svc.RouterDone():
		runErr = fmt.Errorf("message router stopped: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
	return errors.Join(runErr, svc.Stop())
}
