package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"allocation/domain"
)

func (s *Server) allocations(c *gin.Context) {
	orderID := c.Param("orderid")
	// The rule of the order ids the service accepts: anything else was
	// never allocated, and a NUL or broken UTF-8 would only upset the store.
	if err := domain.ValidateIdentifier("orderid", orderID); err != nil {
		s.abortWithError(c, err)
		return
	}
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

// readinessTimeout bounds the whole probe: checks run at once, and one
// that has not answered in time counts as failed, even if the dependency
// holds on to it (a frozen database).
const readinessTimeout = 2 * time.Second

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readinessTimeout)
	defer cancel()
	results := make([]chan error, len(s.readiness))
	for i, check := range s.readiness {
		results[i] = make(chan error, 1)
		go func() { results[i] <- check.Check(ctx) }()
	}
	checks := gin.H{}
	var failed []error
	for i, check := range s.readiness {
		err := awaitCheck(ctx, results[i])
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

// awaitCheck takes a check's answer, or says none came before ctx ended.
// An answer already there wins over the deadline: select would pick
// between them at random, reporting a check that did answer as silent.
func awaitCheck(ctx context.Context, result <-chan error) error {
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		select {
		case err := <-result:
			return err
		default:
			return errors.New("no answer within " + readinessTimeout.String())
		}
	}
}
