package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"allocation/config"
)

// Run runs the service until ctx ends: router first, then HTTP; on the
// way out HTTP stops taking requests and finishes those in flight, then the
// router finishes the messages it is handling.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	gin.SetMode(gin.ReleaseMode)
	svc, err := New(cfg, logger)
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
	logger.Info("allocation service started", "http_addr", listener.Addr().String(), "store", cfg.Store, "broker", cfg.Broker)

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-httpErr:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-svc.RouterDone():
		runErr = fmt.Errorf("message router stopped: %w", err)
	case err := <-svc.Failed():
		runErr = fmt.Errorf("background worker failed: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
	runErr = errors.Join(runErr, svc.Stop())
	logger.Info("stopped")
	return runErr
}
