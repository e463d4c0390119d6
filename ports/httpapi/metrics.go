package httpapi

import (
	"time"

	"github.com/gin-gonic/gin"
)

// RequestObserver records HTTP requests (Prometheus in production).
type RequestObserver interface {
	ObserveHTTP(route, method string, status int, elapsed time.Duration)
}

// ObserveRequests is a middleware that reports every request by route
// pattern; unmatched paths are reported as "unmatched" so that scanners
// cannot blow up label cardinality.
func ObserveRequests(observer RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		started := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		observer.ObserveHTTP(route, c.Request.Method, c.Writer.Status(), time.Since(started))
	}
}
