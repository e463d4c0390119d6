package domain

import (
	"testing"
)

func TestEventKeyIsEqualForEqualFacts(t *testing.T) {
	mk := []func() Event{
		func() Event { return Allocated{OrderID: "o1", SKU: "LAMP", Qty: 3, BatchRef: "b1", Version: 4} },
		func() Event { return Deallocated{OrderID: "o1", SKU: "LAMP", Qty: 3, BatchRef: "b1", Version: 4} },
		func() Event { return OutOfStock{SKU: "LAMP", OrderID: "o1", Qty: 3, Version: 4} },
	}
	for _, f := range mk {
		a, b := f(), f()
		if a.Key() == "" {
			t.Errorf("%#v.Key() is empty", a)
		}
		if a.Key() != b.Key() {
			t.Errorf("Key differs for equal facts: %q vs %q", a.Key(), b.Key())
		}
	}
}

func TestEventKeyDiffersBetweenDistinctFacts(t *testing.T) {
	alloc := Allocated{OrderID: "o1", SKU: "LAMP", Qty: 3, BatchRef: "b1", Version: 4}
	dealloc := Deallocated{OrderID: "o1", SKU: "LAMP", Qty: 3, BatchRef: "b1", Version: 4}
	oos := OutOfStock{SKU: "LAMP", OrderID: "o1", Qty: 3, Version: 4}
	with := func(f func(*Allocated)) Event { e := alloc; f(&e); return e }
	withD := func(f func(*Deallocated)) Event { e := dealloc; f(&e); return e }
	withO := func(f func(*OutOfStock)) Event { e := oos; f(&e); return e }

	tests := []struct {
		name string
		a, b Event
	}{
		{"allocated vs deallocated with same fields", alloc, dealloc},
		{"allocated vs out of stock", alloc, oos},
		{"deallocated vs out of stock", dealloc, oos},
		{"allocated: other order", alloc, with(func(e *Allocated) { e.OrderID = "o2" })},
		{"allocated: other sku", alloc, with(func(e *Allocated) { e.SKU = "TABLE" })},
		{"allocated: other batch", alloc, with(func(e *Allocated) { e.BatchRef = "b2" })},
		{"allocated: other version", alloc, with(func(e *Allocated) { e.Version = 5 })},
		{"deallocated: other order", dealloc, withD(func(e *Deallocated) { e.OrderID = "o2" })},
		{"deallocated: other sku", dealloc, withD(func(e *Deallocated) { e.SKU = "TABLE" })},
		{"deallocated: other batch", dealloc, withD(func(e *Deallocated) { e.BatchRef = "b2" })},
		{"deallocated: other version", dealloc, withD(func(e *Deallocated) { e.Version = 5 })},
		{"out of stock: other order", oos, withO(func(e *OutOfStock) { e.OrderID = "o2" })},
		{"out of stock: other sku", oos, withO(func(e *OutOfStock) { e.SKU = "TABLE" })},
		{"out of stock: other qty", oos, withO(func(e *OutOfStock) { e.Qty = 4 })},
		{"out of stock: other version", oos, withO(func(e *OutOfStock) { e.Version = 5 })},
		{"version 1 vs 11 (no digit run-on)", with(func(e *Allocated) { e.BatchRef = "b1"; e.Version = 11 }),
			with(func(e *Allocated) { e.BatchRef = "b11"; e.Version = 1 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a.Key() == tt.b.Key() {
				t.Errorf("same key %q for %#v and %#v", tt.a.Key(), tt.a, tt.b)
			}
		})
	}
}

// Every event a product records over a realistic history is a distinct fact
// and must get its own key (keys are used as de-duplication ids).
func TestEventKeysOfAProductHistoryAreUnique(t *testing.T) {
	p := newProduct(t, "LAMP", batchSpec{"b1", 10, nil}, batchSpec{"b2", 10, datePtr(tomorrow)})
	var events []Event
	allocate := func(id string, qty int) {
		_, _ = p.Allocate(mustLine(t, id, "LAMP", qty))
		events = append(events, p.PopEvents()...)
	}
	allocate("o1", 4)
	allocate("o2", 4)
	allocate("o3", 4)  // goes to b2
	allocate("o4", 20) // out of stock
	if err := p.ChangeBatchQuantity("b1", 1); err != nil {
		t.Fatal(err)
	}
	events = append(events, p.PopEvents()...) // o2, o1 deallocated
	allocate("o2", 4)
	allocate("o1", 4)
	allocate("o4", 20) // out of stock again, at a later version

	if len(events) != 9 {
		t.Fatalf("recorded %d events, want 9: %#v", len(events), events)
	}
	seen := map[string]Event{}
	for _, e := range events {
		if prev, dup := seen[e.Key()]; dup {
			t.Errorf("key %q shared by %#v and %#v", e.Key(), prev, e)
		}
		seen[e.Key()] = e
	}
}

func TestEventKeyIsInjectiveWhenFieldsContainSlash(t *testing.T) {
	a := Allocated{SKU: "CHAIR/RED", OrderID: "o1", Qty: 1, BatchRef: "b1", Version: 2}
	b := Allocated{SKU: "CHAIR", OrderID: "RED/o1", Qty: 1, BatchRef: "b1", Version: 2}
	if a.Key() == b.Key() {
		t.Errorf("distinct facts share key %q", a.Key())
	}
}
