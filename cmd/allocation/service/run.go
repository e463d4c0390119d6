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

// Run runs the service until ctx ends. The HTTP port opens first, with
// /healthz alive and /readyz naming what start-up waits for; once the store
// and broker answer, the router starts, then the API. On the way out HTTP
// stops taking requests and finishes those in flight, then the router
// finishes the messages it is handling.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	gin.SetMode(gin.ReleaseMode)
	listener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	status := &startupStatus{}
	handler := newSwitchableHandler(status)
	server := newHTTPServer(cfg, handler)
	httpErr := make(chan error, 1)
	go func() { httpErr <- server.Serve(listener) }()

	// Start-up runs aside, so that SIGTERM ends it at any point.
	type started struct {
		svc *Service
		err error
	}
	startup := make(chan started, 1)
	go func() {
		svc, err := startWhenReachable(ctx, cfg, logger, status)
		startup <- started{svc, err}
	}()
	var svc *Service
	select {
	case s := <-startup:
		if s.err != nil {
			return errors.Join(s.err, server.Close())
		}
		svc = s.svc
	case <-ctx.Done():
		logger.Info("start-up interrupted")
		return server.Close()
	}
	handler.use(svc.Handler)
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

// newHTTPServer bounds what one client can hold: the whole request must
// arrive within HTTP_READ_TIMEOUT (a body trickled a byte a second is cut
// off), the answer be written within HTTP_WRITE_TIMEOUT, an idle
// keep-alive connection is closed after HTTP_IDLE_TIMEOUT, and headers
// are at most HTTP_MAX_HEADER_BYTES. Bodies are bounded by the API
// (httpapi), and handlers by REQUEST_TIMEOUT.
func newHTTPServer(cfg config.Config, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(5*time.Second, cfg.HTTPReadTimeout),
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    cfg.HTTPMaxHeaderBytes,
	}
}
