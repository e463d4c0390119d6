package httpapi

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// requestDeadline gives every request a deadline: the handlers and what
// they call (the product queue, the store) stop waiting at it, and the
// request is answered 503 rather than hanging while the database is frozen.
func requestDeadline(timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
