package domain

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// The domain's allocation on random products: any sequence of new batches
// (with and without eta), allocations, quantity changes and
// allocate-then-deallocate round trips. Invariants after every step: no
// batch is over-allocated, a batch's allocated quantity is the sum of its
// lines, an order holds at most one line in the product; and allocating a
// line then deallocating it restores every batch's available quantity.
func FuzzProductAllocate(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		p, err := NewProduct("SKU")
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i+2 < len(ops); i += 3 {
			op, a, b := ops[i]%4, int(ops[i+1]), int(ops[i+2])
			switch op {
			case 0: // a new batch
				ref := fmt.Sprintf("b%d", len(refs))
				var eta *time.Time
				if a%3 != 0 {
					d := base.AddDate(0, 0, a%7)
					eta = &d
				}
				if err := p.AddBatch(ref, b+1, eta); err != nil {
					t.Fatalf("add batch: %v", err)
				}
				refs = append(refs, ref)
			case 1: // an order line, maybe of an order already allocated
				line, _ := NewOrderLine(fmt.Sprintf("o%d", a%16), "SKU", b%60+1)
				allocate(t, p, line)
			case 2: // a quantity change, maybe below what is allocated
				if len(refs) == 0 {
					continue
				}
				if err := p.ChangeBatchQuantity(refs[a%len(refs)], b*3%200); err != nil {
					t.Fatalf("change quantity: %v", err)
				}
			case 3: // allocate then deallocate a fresh line
				before := availableByBatch(p)
				line, _ := NewOrderLine(fmt.Sprintf("fresh-%d", i), "SKU", b%60+1)
				ref, ok := allocate(t, p, line)
				if !ok {
					continue
				}
				batch, _ := p.Batch(ref)
				batch.Deallocate(line.OrderID())
				if after := availableByBatch(p); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatalf("allocate then deallocate: available %v, was %v", after, before)
				}
			}
			checkInvariants(t, p)
		}
	})
}

func allocate(t *testing.T, p *Product, line OrderLine) (string, bool) {
	t.Helper()
	ref, err := p.Allocate(line)
	var outOfStock OutOfStockError
	switch {
	case errors.As(err, &outOfStock):
		return "", false
	case err != nil:
		t.Fatalf("allocate %v: %v", line, err)
	}
	b, ok := p.Batch(ref)
	if !ok || !b.HasLine(line.OrderID()) {
		t.Fatalf("allocated %s to %s, which does not hold it", line.OrderID(), ref)
	}
	return ref, true
}

func availableByBatch(p *Product) map[string]int {
	m := map[string]int{}
	for _, b := range p.Batches() {
		m[b.Ref()] = b.AvailableQuantity()
	}
	return m
}

func checkInvariants(t *testing.T, p *Product) {
	t.Helper()
	orders := map[string]string{}
	for _, b := range p.Batches() {
		sum := 0
		for _, l := range b.Allocations() {
			sum += l.Qty()
			if other, dup := orders[l.OrderID()]; dup {
				t.Fatalf("order %s holds lines in %s and %s", l.OrderID(), other, b.Ref())
			}
			orders[l.OrderID()] = b.Ref()
		}
		if sum != b.AllocatedQuantity() {
			t.Fatalf("batch %s: allocated %d, lines sum to %d", b.Ref(), b.AllocatedQuantity(), sum)
		}
		if b.AllocatedQuantity() > b.PurchasedQuantity() || b.AvailableQuantity() < 0 {
			t.Fatalf("batch %s over-allocated: %d of %d", b.Ref(), b.AllocatedQuantity(), b.PurchasedQuantity())
		}
	}
}
