package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"allocation/app"
	"allocation/domain"
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Message string `json:"message"`
}

// httpStatus maps an error to its HTTP status: the one place where error
// kinds meet HTTP. An unavailable request is fine; another process, or
// this one a moment later, will take it.
func httpStatus(err error) int {
	if errors.As(err, new(tooLargeError)) {
		return http.StatusRequestEntityTooLarge
	}
	switch app.KindOf(err) {
	case domain.KindInvalid:
		return http.StatusBadRequest
	case domain.KindNotFound:
		return http.StatusNotFound
	case domain.KindConflict:
		return http.StatusConflict
	case domain.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// abortWithError answers with the error's status and message. Internal
// errors are logged and answered with a generic message: their text may
// hold details (SQL, addresses) the client has no business seeing.
func (s *Server) abortWithError(c *gin.Context, err error) {
	status := httpStatus(err)
	message := err.Error()
	if status == http.StatusInternalServerError {
		s.logger.ErrorContext(c.Request.Context(), "request failed", "error", err,
			"path", c.FullPath(), "correlation_id", app.CorrelationIDFromContext(c.Request.Context()))
		message = "internal error"
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
		message = unavailableMessage(err)
	}
	c.AbortWithStatusJSON(status, errorBody{Message: message})
}

// unavailableMessage names what the request waited for, without the
// driver's details.
func unavailableMessage(err error) string {
	var unavailable app.UnavailableError
	switch {
	case errors.As(err, &unavailable):
		return unavailable.Dependency + " unavailable: try again shortly"
	case errors.Is(err, context.DeadlineExceeded):
		return "the database did not answer in time: try again shortly"
	}
	return err.Error()
}

// badRequestError is malformed input caught by the HTTP layer itself.
type badRequestError struct{ reason string }

func (badRequestError) Kind() domain.ErrorKind { return domain.KindInvalid }
func (e badRequestError) Error() string        { return e.reason }

type notFoundError struct{ what string }

func (notFoundError) Kind() domain.ErrorKind { return domain.KindNotFound }
func (e notFoundError) Error() string        { return e.what + " not found" }
