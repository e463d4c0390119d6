package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) allocations(c *gin.Context) {
	orderID := c.Param("orderid")
	rows, err := s.app.Allocations.AllocationsFor(c.Request.Context(), orderID)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if len(rows) == 0 {
		s.abortWithError(c, notFoundError{what: "allocations of order " + orderID})
		return
	}
	c.JSON(http.StatusOK, rows)
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readinessTimeout bounds each check so that a hung dependency makes the
// probe fail rather than hang.
const readinessTimeout = 2 * time.Second

func (s *Server) readyz(c *gin.Context) {
	checks := gin.H{}
	var failed []error
	for _, check := range s.readiness {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readinessTimeout)
		err := check.Check(ctx)
		cancel()
		if err != nil {
			checks[check.Name] = err.Error()
			failed = append(failed, errors.New(check.Name+": "+err.Error()))
			continue
		}
		checks[check.Name] = "ok"
	}
	if len(failed) > 0 {
		c.JSON(http.StatusServiceUnavailable, gin.H{"message": "not ready: " + errors.Join(failed...).Error(), "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
}
