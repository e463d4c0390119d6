package app_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"allocation/app"
	"allocation/domain"
)

func TestIsPermanent(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{domain.ValidationError{Field: "qty"}, true},
		{domain.ProductNotFoundError{SKU: "X"}, true},
		{fmt.Errorf("wrapped: %w", domain.BatchNotFoundError{Ref: "b"}), true},
		{domain.DuplicateBatchError{Ref: "b"}, true},
		{domain.OutOfStockError{SKU: "X"}, true},
		{app.Permanent(errors.New("bad payload")), true},
		{json.Unmarshal([]byte(`{"qty":"x"}`), &struct{ Qty int }{}), true},
		{json.Unmarshal([]byte(`{`), &struct{}{}), true},
		{app.ConcurrencyConflictError{SKU: "X"}, false},
		{errors.New("connection refused"), false},
	}
	for _, c := range cases {
		if got := app.IsPermanent(c.err); got != c.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
