package service

import (
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
)

// switchableHandler serves the start-up answers until the service is
// built, then the service's handler: the port is open, and the probes
// answer, while start-up waits for the database or broker.
type switchableHandler struct {
	current atomic.Pointer[http.Handler]
}

func newSwitchableHandler(status *startupStatus) *switchableHandler {
	h := &switchableHandler{}
	starting := startingHandler(status)
	h.current.Store(&starting)
	return h
}

func (h *switchableHandler) use(next http.Handler) { h.current.Store(&next) }

func (h *switchableHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*h.current.Load()).ServeHTTP(w, r)
}

// startingHandler is alive (/healthz 200) and not ready (/readyz 503,
// naming what start-up waits for); everything else is 503 too.
func startingHandler(status *startupStatus) http.Handler {
	engine := gin.New()
	engine.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	engine.NoRoute(func(c *gin.Context) {
		c.Header("Retry-After", "1")
		c.JSON(http.StatusServiceUnavailable, gin.H{"message": status.String()})
	})
	return engine
}
