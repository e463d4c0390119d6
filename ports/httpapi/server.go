// Package httpapi is the HTTP way in (Gin): it decodes requests, runs the
// command handlers synchronously and maps their errors to statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"allocation/app"
)

// ReadinessCheck reports whether one dependency (store, broker) answers.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Config is what the HTTP port needs.
type Config struct {
	App      app.Application
	Commands app.CommandSender
	Logger   *slog.Logger
	// Readiness checks behind GET /readyz; all must pass.
	Readiness []ReadinessCheck
	// Metrics serves GET /metrics; nil leaves the route out.
	Metrics http.Handler
	// Poison is the poison queue behind /admin/poison; nil leaves it out.
	Poison app.PoisonQueue
	// AdminToken enables /admin/*, for requests that carry it as
	// "Authorization: Bearer <token>"; empty: /admin/* answers 403.
	AdminToken string
	// Middlewares run on every request after correlation ids are set.
	Middlewares []gin.HandlerFunc
	// RequestTimeout bounds every request: one that runs out of time is
	// answered 503. 0 leaves requests unbounded.
	RequestTimeout time.Duration
}

// Server holds the HTTP handlers.
type Server struct {
	app       app.Application
	commands  app.CommandSender
	logger    *slog.Logger
	readiness []ReadinessCheck
	poison    app.PoisonQueue
	// adminToken is the SHA-256 of the admin token; nil: admin disabled.
	adminToken []byte
}

// NewHandler builds the Gin engine with every route.
func NewHandler(cfg Config) http.Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{app: cfg.App, commands: cfg.Commands, logger: logger, readiness: cfg.Readiness, poison: cfg.Poison,
		adminToken: hashAdminToken(cfg.AdminToken)}
	engine := gin.New()
	engine.Use(gin.CustomRecovery(func(c *gin.Context, recovered any) {
		s.logger.ErrorContext(c.Request.Context(), "panic in HTTP handler", "panic", recovered, "path", c.FullPath())
		c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody{Message: "internal error"})
	}))
	engine.Use(correlationID)
	engine.Use(cfg.Middlewares...)
	if cfg.RequestTimeout > 0 {
		engine.Use(requestDeadline(cfg.RequestTimeout))
	}
	engine.HandleMethodNotAllowed = true
	engine.NoRoute(func(c *gin.Context) {
		if isAdminPath(c.Request.URL.Path) {
			if s.adminAuth(c); c.IsAborted() {
				return
			}
		}
		c.JSON(http.StatusNotFound, errorBody{Message: "no such route: " + c.Request.Method + " " + c.Request.URL.Path})
	})
	engine.NoMethod(func(c *gin.Context) {
		if isAdminPath(c.Request.URL.Path) {
			if s.adminAuth(c); c.IsAborted() {
				return
			}
		}
		c.JSON(http.StatusMethodNotAllowed, errorBody{Message: "method " + c.Request.Method + " not allowed on " + c.Request.URL.Path})
	})

	engine.POST("/add_batch", s.addBatch)
	engine.POST("/allocate", s.allocate)
	engine.GET("/allocations/:orderid", s.allocations)
	engine.GET("/healthz", s.healthz)
	engine.GET("/readyz", s.readyz)
	engine.GET("/openapi.json", openAPI)
	if cfg.Poison != nil {
		admin := engine.Group("/admin", s.adminAuth)
		admin.GET("/poison", s.listPoison)
		admin.POST("/poison/replay", s.replayPoison)
	}
	if cfg.Metrics != nil {
		engine.GET("/metrics", gin.WrapH(cfg.Metrics))
	}
	return engine
}
