package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"allocation/app"
	"allocation/domain"
)

func TestEveryErrorHasTheStatusClientsKnow(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{badRequestError{reason: "qty: is required"}, http.StatusBadRequest},
		{domain.ValidationError{Field: "qty"}, http.StatusBadRequest},
		{domain.ProductNotFoundError{SKU: "X"}, http.StatusBadRequest},
		{domain.SKUMismatchError{BatchSKU: "X", LineSKU: "Y"}, http.StatusBadRequest},
		{app.PoisonCursorError{After: "x"}, http.StatusBadRequest},
		{tooLargeError{limit: maxBodyBytes}, http.StatusRequestEntityTooLarge},
		{domain.DuplicateBatchError{Ref: "b"}, http.StatusConflict},
		{domain.OutOfStockError{SKU: "X"}, http.StatusConflict},
		{fmt.Errorf("loading: %w", domain.BatchNotFoundError{Ref: "b"}), http.StatusNotFound},
		{notFoundError{what: "allocations of order o1"}, http.StatusNotFound},
		{app.UnknownParkedMessageError{ID: "x"}, http.StatusNotFound},
		{app.ConcurrencyConflictError{SKU: "X"}, http.StatusServiceUnavailable},
		{app.ShuttingDownError{}, http.StatusServiceUnavailable},
		{app.UnavailableError{Dependency: "database", Err: errors.New("refused")}, http.StatusServiceUnavailable},
		{context.DeadlineExceeded, http.StatusServiceUnavailable},
		{context.Canceled, http.StatusServiceUnavailable},
		{errors.New("pq: syntax error"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		if got := httpStatus(c.err); got != c.status {
			t.Errorf("httpStatus(%T %v) = %d, want %d", c.err, c.err, got, c.status)
		}
	}
}
