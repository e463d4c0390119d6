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

// httpStatus maps an error to its HTTP status: the one place where domain
// and application errors meet HTTP.
func httpStatus(err error) int {
	var (
		badRequest  badRequestError
		validation  domain.ValidationError
		noProduct   domain.ProductNotFoundError
		mismatch    domain.SKUMismatchError
		duplicate   domain.DuplicateBatchError
		outOfStock  domain.OutOfStockError
		noBatch     domain.BatchNotFoundError
		conflict    app.ConcurrencyConflictError
		stopping    app.ShuttingDownError
		notFoundErr notFoundError
		notParked   app.UnknownParkedMessageError
		badCursor   app.PoisonCursorError
	)
	switch {
	case errors.As(err, &badRequest), errors.As(err, &validation), errors.As(err, &noProduct), errors.As(err, &mismatch),
		errors.As(err, &badCursor):
		return http.StatusBadRequest
	case errors.As(err, new(tooLargeError)):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &duplicate), errors.As(err, &outOfStock):
		return http.StatusConflict
	case errors.As(err, &noBatch), errors.As(err, &notFoundErr), errors.As(err, &notParked):
		return http.StatusNotFound
	case errors.As(err, &conflict), errors.As(err, &stopping), app.IsUnavailable(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The request is fine; another process, or this one a moment
		// later, will take it. A request that ran out of time waited for
		// the database.
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
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

func (e badRequestError) Error() string { return e.reason }

type notFoundError struct{ what string }

func (e notFoundError) Error() string { return e.what + " not found" }
