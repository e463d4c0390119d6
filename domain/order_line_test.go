package domain

import (
	"errors"
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

func TestNewOrderLineRefusesInvalidValues(t *testing.T) {
	tests := []struct {
		name      string
		orderID   string
		sku       string
		qty       int
		wantField string
	}{
		{"empty orderid", "", "RED-CHAIR", 1, "orderid"},
		{"empty sku", "order1", "", 1, "sku"},
		{"zero qty", "order1", "RED-CHAIR", 0, "qty"},
		{"negative qty", "order1", "RED-CHAIR", -3, "qty"},
		{"everything empty reports orderid first", "", "", 0, "orderid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, err := NewOrderLine(tt.orderID, tt.sku, tt.qty)
			var verr ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v (%T), want ValidationError", err, err)
			}
			if verr.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", verr.Field, tt.wantField)
			}
			if verr.Reason == "" {
				t.Error("Reason is empty")
			}
			if line != (OrderLine{}) {
				t.Errorf("line = %+v, want zero value on error", line)
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
