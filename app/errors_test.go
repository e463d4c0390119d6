package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"allocation/adapters/messagebus"
	"allocation/app"
	"allocation/domain"
)

func TestErrorKinds(t *testing.T) {
	cases := []struct {
		err         error
		kind        app.ErrorKind
		permanent   bool
		unavailable bool
	}{
		{domain.ValidationError{Field: "qty"}, domain.KindInvalid, true, false},
		{domain.ProductNotFoundError{SKU: "X"}, domain.KindInvalid, true, false},
		{domain.SKUMismatchError{BatchSKU: "X", LineSKU: "Y"}, domain.KindInvalid, true, false},
		{fmt.Errorf("wrapped: %w", domain.BatchNotFoundError{Ref: "b"}), domain.KindNotFound, true, false},
		{domain.DuplicateBatchError{Ref: "b"}, domain.KindConflict, true, false},
		{domain.OutOfStockError{SKU: "X"}, domain.KindConflict, true, false},
		{domain.StaleChangeError{Ref: "b"}, domain.KindConflict, true, false},
		{app.Permanent(errors.New("bad payload")), domain.KindInvalid, true, false},
		{app.Permanent(app.UnavailableError{Dependency: "broker", Err: errors.New("gone")}), domain.KindInvalid, true, true},
		{json.Unmarshal([]byte(`{"qty":"x"}`), &struct{ Qty int }{}), domain.KindInvalid, true, false},
		{json.Unmarshal([]byte(`{`), &struct{}{}), domain.KindInvalid, true, false},
		{app.PoisonCursorError{After: "x"}, domain.KindInvalid, true, false},
		{app.UnknownParkedMessageError{ID: "x"}, domain.KindNotFound, true, false},
		{fmt.Errorf("%w: %w", app.ConcurrencyConflictError{SKU: "X"}, errors.New("serialization failure")), domain.KindUnavailable, false, false},
		{app.ShuttingDownError{}, domain.KindUnavailable, false, false},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), domain.KindUnavailable, false, false},
		{context.Canceled, domain.KindUnavailable, false, false},
		{app.UnavailableError{Dependency: "database", Err: errors.New("connection refused")}, domain.KindUnavailable, false, true},
		{errors.New("connection refused"), domain.KindInternal, false, false},
	}
	for _, c := range cases {
		if got := app.KindOf(c.err); got != c.kind {
			t.Errorf("KindOf(%v) = %v, want %v", c.err, got, c.kind)
		}
		if got := app.IsPermanent(c.err); got != c.permanent {
			t.Errorf("IsPermanent(%v) = %v, want %v", c.err, got, c.permanent)
		}
		if got := app.IsUnavailable(c.err); got != c.unavailable {
			t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.unavailable)
		}
	}
}

func TestUndecodableMessagesArePermanent(t *testing.T) {
	m := messagebus.Marshaler()
	msg, err := m.Marshal(&domain.Allocate{OrderID: "o1", SKU: "LAMP", Qty: 1})
	if err != nil {
		t.Fatal(err)
	}
	var back domain.Allocate
	if err := m.Unmarshal(msg, &back); err != nil || back != (domain.Allocate{OrderID: "o1", SKU: "LAMP", Qty: 1}) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	if m.NameFromMessage(msg) != "Allocate" || string(msg.Payload) != `{"orderid":"o1","sku":"LAMP","qty":1}` {
		t.Fatalf("name %q payload %s", m.NameFromMessage(msg), msg.Payload)
	}
	for _, payload := range []string{`{`, `{"qty":"x"}`, `[]`} {
		msg.Payload = []byte(payload)
		if err := m.Unmarshal(msg, &back); !app.IsPermanent(err) {
			t.Errorf("Unmarshal(%s) = %v, want a permanent error", payload, err)
		}
	}
}
