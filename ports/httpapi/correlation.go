package httpapi

import (
	"github.com/ThreeDotsLabs/watermill"
	"github.com/gin-gonic/gin"

	"allocation/app"
)

// CorrelationIDHeader carries the correlation id in and out.
const CorrelationIDHeader = "X-Correlation-ID"

// correlationID accepts the caller's correlation id (cut to
// app.MaxCorrelationIDBytes, so that a hostile header cannot bloat every
// message and log line) or makes one when it is absent or holds anything
// but printable ASCII, echoes it and puts it in the request context, from
// where the buses copy it onto every message the request causes.
func correlationID(c *gin.Context) {
	id := app.BoundCorrelationID(c.GetHeader(CorrelationIDHeader))
	if !validCorrelationID(id) {
		id = watermill.NewUUID()
	}
	c.Header(CorrelationIDHeader, id)
	c.Request = c.Request.WithContext(app.WithCorrelationID(c.Request.Context(), id))
	c.Next()
}

func validCorrelationID(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}
