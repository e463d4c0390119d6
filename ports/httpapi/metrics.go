package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// RequestObserver records HTTP requests (Prometheus in production).
type RequestObserver interface {
	ObserveHTTP(route, method string, status int, elapsed time.Duration)
}

// RouteInitializer creates a route's series before its first request.
type RouteInitializer interface {
	InitRoute(route, method string)
}

// InitRoutes gives every route of handler (built by NewHandler) its series
// at zero, so that they exist before the first request.
func InitRoutes(handler http.Handler, init RouteInitializer) {
	engine, ok := handler.(*gin.Engine)
	if !ok {
		return
	}
	for _, r := range engine.Routes() {
		init.InitRoute(r.Path, r.Method)
	}
}

// Label values shared by every request the API has no route for, and by
// every method that is not a standard one: a scanner inventing paths or
// methods cannot add series.
const (
	UnmatchedRoute = "unmatched"
	OtherMethod    = "other"
)

// methodLabel is the method, if it is one of RFC 9110's (and PATCH).
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return OtherMethod
}

// ObserveRequests is a middleware that reports every request by route
// pattern and method; unmatched paths are reported as UnmatchedRoute and
// unknown methods as OtherMethod so that scanners cannot blow up label
// cardinality.
func ObserveRequests(observer RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		started := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = UnmatchedRoute
		}
		observer.ObserveHTTP(route, methodLabel(c.Request.Method), c.Writer.Status(), time.Since(started))
	}
}
