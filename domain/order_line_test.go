package domain

import (
	"errors"
	"reflect"
	"testing"
)

// mustLine builds an order line or stops the test.
func mustLine(t testing.TB, orderID, sku string, qty int) OrderLine {
	t.Helper()
	l, err := NewOrderLine(orderID, sku, qty)
	if err != nil {
		t.Fatalf("NewOrderLine(%q, %q, %d): %v", orderID, sku, qty, err)
	}
	return l
}

// The constructors refuse what the domain does not accept, naming the
// field, and give nothing back.
func TestConstructorsRefuseInvalidValues(t *testing.T) {
	line := func(orderID, sku string, qty int) func() (any, error) {
		return func() (any, error) { return NewOrderLine(orderID, sku, qty) }
	}
	batch := func(ref, sku string, qty int) func() (any, error) {
		return func() (any, error) { return NewBatch(ref, sku, qty, nil) }
	}
	tests := []struct {
		name      string
		build     func() (any, error)
		wantField string
	}{
		{"line: empty orderid", line("", "RED-CHAIR", 1), "orderid"},
		{"line: empty sku", line("order1", "", 1), "sku"},
		{"line: zero qty", line("order1", "RED-CHAIR", 0), "qty"},
		{"line: negative qty", line("order1", "RED-CHAIR", -3), "qty"},
		{"line: everything empty reports orderid first", line("", "", 0), "orderid"},
		{"batch: empty ref", batch("", "RED-CHAIR", 10), "ref"},
		{"batch: empty sku", batch("batch1", "", 10), "sku"},
		{"batch: zero qty", batch("batch1", "RED-CHAIR", 0), "qty"},
		{"batch: negative qty", batch("batch1", "RED-CHAIR", -1), "qty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built, err := tt.build()
			var verr ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v (%T), want ValidationError", err, err)
			}
			if verr.Field != tt.wantField || verr.Reason == "" {
				t.Errorf("Field, Reason = %q, %q; want %q and a reason", verr.Field, verr.Reason, tt.wantField)
			}
			if !reflect.ValueOf(built).IsZero() {
				t.Errorf("built %+v, want nothing on error", built)
			}
		})
	}
}

func TestNewOrderLineKeepsValues(t *testing.T) {
	line, err := NewOrderLine("order1", "RED-CHAIR", 10)
	if err != nil {
		t.Fatalf("NewOrderLine: %v", err)
	}
	if line.OrderID() != "order1" || line.SKU() != "RED-CHAIR" || line.Qty() != 10 {
		t.Errorf("line = (%q, %q, %d), want (order1, RED-CHAIR, 10)", line.OrderID(), line.SKU(), line.Qty())
	}
}

func TestOrderLinesWithEqualValuesAreEqual(t *testing.T) {
	a := mustLine(t, "order1", "RED-CHAIR", 10)
	b := mustLine(t, "order1", "RED-CHAIR", 10)
	c := mustLine(t, "order1", "RED-CHAIR", 11)
	if a != b {
		t.Errorf("%+v != %+v, want value equality", a, b)
	}
	if a == c {
		t.Errorf("%+v == %+v, want lines with different qty to differ", a, c)
	}
}
