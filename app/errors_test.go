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

func TestUndecodableMessagesArePermanent(t *testing.T) {
	m := app.Marshaler()
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
