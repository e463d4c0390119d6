package domain

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

type batchSpec struct {
	ref string
	qty int
	eta *time.Time
}

// newProduct builds a product with the batches, added in order, and with
// no pending events.
func newProduct(t testing.TB, sku string, batches ...batchSpec) *Product {
	t.Helper()
	p, err := NewProduct(sku)
	if err != nil {
		t.Fatalf("NewProduct(%q): %v", sku, err)
	}
	for _, b := range batches {
		if err := p.AddBatch(b.ref, b.qty, b.eta); err != nil {
			t.Fatalf("AddBatch(%q): %v", b.ref, err)
		}
	}
	return p
}

func mustChangeQuantity(t testing.TB, p *Product, ref string, qty int) {
	t.Helper()
	if err := p.ChangeBatchQuantity(ref, qty); err != nil {
		t.Fatalf("ChangeBatchQuantity(%s, %d): %v", ref, qty, err)
	}
}

// mustFail is for a call the rules must refuse.
func mustFail(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("nil error, want a refusal")
	}
}

func mustAllocate(t testing.TB, p *Product, line OrderLine) string {
	t.Helper()
	ref, err := p.Allocate(line)
	if err != nil {
		t.Fatalf("Allocate(%+v): %v", line, err)
	}
	return ref
}

func available(t testing.TB, p *Product, ref string) int {
	t.Helper()
	b, ok := p.Batch(ref)
	if !ok {
		t.Fatalf("no batch %q", ref)
	}
	return b.AvailableQuantity()
}

func TestNewProductRefusesEmptySKU(t *testing.T) {
	p, err := NewProduct("")
	var verr ValidationError
	if !errors.As(err, &verr) || verr.Field != "sku" {
		t.Fatalf("err = %v (%T), want ValidationError{Field: sku}", err, err)
	}
	if p != nil {
		t.Errorf("product = %+v, want nil", p)
	}
}

func TestNewProductStartsEmptyAtVersionZero(t *testing.T) {
	p := newProduct(t, "LAMP")
	if p.SKU() != "LAMP" || p.Version() != 0 || len(p.Batches()) != 0 || len(p.Events()) != 0 {
		t.Errorf("product = (%q, v%d, %d batches, %d events), want (LAMP, v0, 0, 0)",
			p.SKU(), p.Version(), len(p.Batches()), len(p.Events()))
	}
}

func TestPrefersCurrentStockBatchesToShipments(t *testing.T) {
	// The shipment is added first so that insertion order alone would pick it.
	p := newProduct(t, "RETRO-CLOCK",
		batchSpec{"shipment-batch", 100, datePtr(tomorrow)},
		batchSpec{"in-stock-batch", 100, nil},
	)
	line := mustLine(t, "oref", "RETRO-CLOCK", 10)

	ref := mustAllocate(t, p, line)

	if ref != "in-stock-batch" {
		t.Errorf("allocated to %q, want in-stock-batch", ref)
	}
	if got := available(t, p, "in-stock-batch"); got != 90 {
		t.Errorf("in-stock available = %d, want 90", got)
	}
	if got := available(t, p, "shipment-batch"); got != 100 {
		t.Errorf("shipment available = %d, want 100", got)
	}
}

func TestPrefersEarlierBatches(t *testing.T) {
	p := newProduct(t, "MINIMALIST-SPOON",
		batchSpec{"slow", 100, datePtr(later)},
		batchSpec{"normal", 100, datePtr(tomorrow)},
		batchSpec{"speedy", 100, datePtr(today)},
	)
	line := mustLine(t, "order1", "MINIMALIST-SPOON", 10)

	ref := mustAllocate(t, p, line)

	if ref != "speedy" {
		t.Errorf("allocated to %q, want speedy", ref)
	}
	for ref, want := range map[string]int{"speedy": 90, "normal": 100, "slow": 100} {
		if got := available(t, p, ref); got != want {
			t.Errorf("%s available = %d, want %d", ref, got, want)
		}
	}
}

func TestAllocationPreferenceTable(t *testing.T) {
	tests := []struct {
		name    string
		batches []batchSpec
		qty     int
		want    string
	}{
		{"single batch", []batchSpec{{"b1", 10, nil}}, 5, "b1"},
		{"warehouse over earlier shipment", []batchSpec{{"ship", 10, datePtr(today)}, {"wh", 10, nil}}, 5, "wh"},
		{"skips a full preferred batch", []batchSpec{{"wh", 3, nil}, {"ship", 10, datePtr(today)}}, 5, "ship"},
		{"skips full early shipment for later one", []batchSpec{{"late", 10, datePtr(later)}, {"early", 4, datePtr(today)}}, 5, "late"},
		{"exact fit is taken", []batchSpec{{"late", 10, datePtr(later)}, {"early", 5, datePtr(today)}}, 5, "early"},
		{"ties keep insertion order (warehouse)", []batchSpec{{"wh1", 10, nil}, {"wh2", 10, nil}}, 5, "wh1"},
		{"ties keep insertion order (same eta)", []batchSpec{{"s1", 10, datePtr(tomorrow)}, {"s2", 10, datePtr(tomorrow)}}, 5, "s1"},
		{"eta compares by date only", []batchSpec{
			{"evening", 10, datePtr(today.Add(20 * time.Hour))},
			{"morning", 10, datePtr(today.Add(8 * time.Hour))},
		}, 5, "evening"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProduct(t, "LAMP", tt.batches...)
			if got := mustAllocate(t, p, mustLine(t, "o1", "LAMP", tt.qty)); got != tt.want {
				t.Errorf("allocated to %q, want %q", got, tt.want)
			}
		})
	}
}

// With many batches (more than a sort's small-input insertion sort
// handles) and many ties, lines still fill batches warehouse first, then by
// eta, and in the order the batches were added among equals.
func TestAllocationOrderWithManyBatchesAndTies(t *testing.T) {
	const n = 40
	var specs []batchSpec
	var warehouse, byDay [n][]string
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("b%02d", i)
		if i%7 == 3 {
			specs = append(specs, batchSpec{ref, 1, nil})
			warehouse[0] = append(warehouse[0], ref)
			continue
		}
		day := (n - i) / 4 // descending etas, four batches a day
		specs = append(specs, batchSpec{ref, 1, datePtr(today.AddDate(0, 0, day))})
		byDay[day] = append(byDay[day], ref)
	}
	want := append([]string(nil), warehouse[0]...)
	for _, refs := range byDay {
		want = append(want, refs...)
	}

	p := newProduct(t, "LAMP", specs...)
	var got []string
	for i := 0; i < n; i++ {
		got = append(got, mustAllocate(t, p, mustLine(t, fmt.Sprintf("o%d", i), "LAMP", 1)))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("allocation order\n got %v\nwant %v", got, want)
	}
}

func TestReturnsAllocatedBatchRef(t *testing.T) {
	p := newProduct(t, "HIGHBROW-POSTER",
		batchSpec{"in-stock-batch-ref", 100, nil},
		batchSpec{"shipment-batch-ref", 100, datePtr(tomorrow)},
	)
	ref, err := p.Allocate(mustLine(t, "oref", "HIGHBROW-POSTER", 10))
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	b, _ := p.Batch("in-stock-batch-ref")
	if ref != b.Ref() || ref != "in-stock-batch-ref" {
		t.Errorf("ref = %q, want in-stock-batch-ref", ref)
	}
	if !b.HasLine("oref") {
		t.Error("returned batch does not hold the line")
	}
}

func TestRecordsAllocatedEvent(t *testing.T) {
	p := newProduct(t, "FLOPPY-CUSHION", batchSpec{"b1", 100, nil}) // version 1
	ref := mustAllocate(t, p, mustLine(t, "o1", "FLOPPY-CUSHION", 10))

	want := []Event{Allocated{OrderID: "o1", SKU: "FLOPPY-CUSHION", Qty: 10, BatchRef: ref, Version: 2}}
	if got := p.Events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %#v, want %#v", got, want)
	}
	if p.Version() != 2 {
		t.Errorf("Version = %d, want 2 (event Version must be the version after the change)", p.Version())
	}
}

func TestRecordsOutOfStockEventIfCannotAllocate(t *testing.T) {
	p := newProduct(t, "SMALL-FORK", batchSpec{"batch1", 10, datePtr(today)})
	mustAllocate(t, p, mustLine(t, "order1", "SMALL-FORK", 10))
	p.PopEvents()
	versionBefore := p.Version()

	ref, err := p.Allocate(mustLine(t, "order2", "SMALL-FORK", 1))

	var oos OutOfStockError
	if !errors.As(err, &oos) {
		t.Fatalf("err = %v (%T), want OutOfStockError", err, err)
	}
	if oos.SKU != "SMALL-FORK" {
		t.Errorf("OutOfStockError.SKU = %q, want SMALL-FORK", oos.SKU)
	}
	if ref != "" {
		t.Errorf("ref = %q, want empty", ref)
	}
	want := []Event{OutOfStock{SKU: "SMALL-FORK", OrderID: "order2", Qty: 1, Version: versionBefore}}
	if got := p.Events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %#v, want %#v", got, want)
	}
	if got := available(t, p, "batch1"); got != 0 {
		t.Errorf("available = %d, want 0", got)
	}
}

func TestOutOfStockWithNoBatches(t *testing.T) {
	p := newProduct(t, "SMALL-FORK")
	_, err := p.Allocate(mustLine(t, "order1", "SMALL-FORK", 1))
	if !errors.As(err, new(OutOfStockError)) {
		t.Fatalf("err = %v, want OutOfStockError", err)
	}
	want := []Event{OutOfStock{SKU: "SMALL-FORK", OrderID: "order1", Qty: 1, Version: 0}}
	if got := p.Events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %#v, want %#v", got, want)
	}
}

func TestAllocateRefusesLineOfAnotherSKU(t *testing.T) {
	p := newProduct(t, "LAMP", batchSpec{"b1", 10, nil})
	_, err := p.Allocate(mustLine(t, "o1", "TABLE", 1))
	var mismatch SKUMismatchError
	if !errors.As(err, &mismatch) || mismatch != (SKUMismatchError{BatchSKU: "LAMP", LineSKU: "TABLE"}) {
		t.Fatalf("err = %#v, want SKUMismatchError{LAMP, TABLE}", err)
	}
	if len(p.Events()) != 0 || p.Version() != 1 || available(t, p, "b1") != 10 {
		t.Errorf("product changed: %d events, v%d, available %d", len(p.Events()), p.Version(), available(t, p, "b1"))
	}
}

func TestVersionNumber(t *testing.T) {
	line := func(t *testing.T, id string, qty int) OrderLine { return mustLine(t, id, "SCANDI-PEN", qty) }
	tests := []struct {
		name  string
		setup []batchSpec
		act   func(t *testing.T, p *Product)
		delta int
	}{
		{"add batch increments", nil, func(t *testing.T, p *Product) {
			if err := p.AddBatch("b1", 10, nil); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"allocation increments", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustAllocate(t, p, line(t, "o1", 1))
		}, 1},
		{"change of quantity increments", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustChangeQuantity(t, p, "b1", 20)
		}, 1},
		// Two allocations, then one change that deallocates both lines.
		{"change of quantity that deallocates increments once", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustAllocate(t, p, line(t, "o1", 4))
			mustAllocate(t, p, line(t, "o2", 4))
			mustChangeQuantity(t, p, "b1", 1)
		}, 3},
		{"change to the same quantity does not", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustChangeQuantity(t, p, "b1", 10)
		}, 0},
		{"out of stock does not", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			if _, err := p.Allocate(line(t, "o1", 11)); !errors.As(err, new(OutOfStockError)) {
				t.Fatalf("err = %v, want OutOfStockError", err)
			}
		}, 0},
		{"idempotent re-allocation does not", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustAllocate(t, p, line(t, "o1", 1))
			mustAllocate(t, p, line(t, "o1", 1))
		}, 1},
		{"duplicate batch does not", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustFail(t, p.AddBatch("b1", 10, nil))
		}, 0},
		{"invalid batch does not", nil, func(t *testing.T, p *Product) {
			mustFail(t, p.AddBatch("b1", 0, nil))
		}, 0},
		{"unknown batch quantity change does not", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustFail(t, p.ChangeBatchQuantity("nope", 5))
		}, 0},
		{"negative quantity change does not", []batchSpec{{"b1", 10, nil}}, func(t *testing.T, p *Product) {
			mustFail(t, p.ChangeBatchQuantity("b1", -1))
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProduct(t, "SCANDI-PEN", tt.setup...)
			before := p.Version()
			if before != len(tt.setup) {
				t.Fatalf("version after %d AddBatch = %d", len(tt.setup), before)
			}
			tt.act(t, p)
			if got := p.Version() - before; got != tt.delta {
				t.Errorf("version went from %d to %d (+%d), want +%d", before, p.Version(), got, tt.delta)
			}
		})
	}
}

func TestProductAllocationIsIdempotent(t *testing.T) {
	p := newProduct(t, "ANGULAR-DESK",
		batchSpec{"wh", 20, nil},
		batchSpec{"ship", 20, datePtr(tomorrow)},
	)
	line := mustLine(t, "o1", "ANGULAR-DESK", 5)
	first := mustAllocate(t, p, line)
	p.PopEvents()
	version := p.Version()

	second, err := p.Allocate(line)
	if err != nil {
		t.Fatalf("second Allocate: %v", err)
	}
	if second != first || second != "wh" {
		t.Errorf("second Allocate = %q, want %q", second, first)
	}
	if got := available(t, p, "wh"); got != 15 {
		t.Errorf("wh available = %d, want 15", got)
	}
	if got := available(t, p, "ship"); got != 20 {
		t.Errorf("ship available = %d, want 20", got)
	}
	if evs := p.Events(); len(evs) != 0 {
		t.Errorf("events = %#v, want none", evs)
	}
	if p.Version() != version {
		t.Errorf("Version = %d, want %d", p.Version(), version)
	}
}

func TestAllocateOfOrderAlreadyAllocatedReturnsExistingBatch(t *testing.T) {
	// The order sits on the shipment (warehouse was full); once the
	// warehouse has room again the order still is not moved.
	p := newProduct(t, "LAMP", batchSpec{"wh", 5, nil}, batchSpec{"ship", 20, datePtr(tomorrow)})
	mustAllocate(t, p, mustLine(t, "filler", "LAMP", 5))
	if ref := mustAllocate(t, p, mustLine(t, "o1", "LAMP", 5)); ref != "ship" {
		t.Fatalf("o1 allocated to %q, want ship", ref)
	}
	mustChangeQuantity(t, p, "wh", 50)
	p.PopEvents()
	version := p.Version()

	// Even with a different qty, the order's existing line wins.
	ref, err := p.Allocate(mustLine(t, "o1", "LAMP", 7))
	if err != nil || ref != "ship" {
		t.Fatalf("Allocate = %q, %v, want ship, nil", ref, err)
	}
	if available(t, p, "wh") != 45 || available(t, p, "ship") != 15 {
		t.Errorf("available wh=%d ship=%d, want 45, 15", available(t, p, "wh"), available(t, p, "ship"))
	}
	if len(p.Events()) != 0 || p.Version() != version {
		t.Errorf("events %#v, version %d; want none, %d", p.Events(), p.Version(), version)
	}
}

func TestChangeBatchQuantityDeallocatesMostRecentLinesUntilItFits(t *testing.T) {
	p := newProduct(t, "INDIFFERENT-TABLE", batchSpec{"batch1", 50, nil}, batchSpec{"batch2", 50, datePtr(tomorrow)})
	l1 := mustLine(t, "order1", "INDIFFERENT-TABLE", 20)
	l2 := mustLine(t, "order2", "INDIFFERENT-TABLE", 20)
	l3 := mustLine(t, "order3", "INDIFFERENT-TABLE", 5)
	for _, l := range []OrderLine{l1, l2, l3} {
		if ref := mustAllocate(t, p, l); ref != "batch1" {
			t.Fatalf("%s allocated to %q, want batch1", l.OrderID(), ref)
		}
	}
	p.PopEvents()
	version := p.Version() // 2 batches + 3 allocations

	// 45 allocated; at 22 order3 (5) then order2 (20) must go, leaving 20 <= 22.
	mustChangeQuantity(t, p, "batch1", 22)

	want := []Event{
		Deallocated{OrderID: "order3", SKU: "INDIFFERENT-TABLE", Qty: 5, BatchRef: "batch1", Version: version + 1},
		Deallocated{OrderID: "order2", SKU: "INDIFFERENT-TABLE", Qty: 20, BatchRef: "batch1", Version: version + 1},
	}
	if got := p.Events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %#v\nwant %#v", got, want)
	}
	b, _ := p.Batch("batch1")
	if got := b.Allocations(); !reflect.DeepEqual(got, []OrderLine{l1}) {
		t.Errorf("batch1 allocations = %+v, want [%+v]", got, l1)
	}
	if b.PurchasedQuantity() != 22 || b.AvailableQuantity() != 2 {
		t.Errorf("batch1 purchased %d available %d, want 22, 2", b.PurchasedQuantity(), b.AvailableQuantity())
	}
	if got := available(t, p, "batch2"); got != 50 {
		t.Errorf("batch2 available = %d, want 50 (re-allocation is the handler's job)", got)
	}
	if p.Version() != version+1 {
		t.Errorf("Version = %d, want %d", p.Version(), version+1)
	}
}

func TestChangeBatchQuantityThatStillFitsDeallocatesNothing(t *testing.T) {
	p := newProduct(t, "LAMP", batchSpec{"b1", 20, nil})
	mustAllocate(t, p, mustLine(t, "o1", "LAMP", 10))
	p.PopEvents()
	mustChangeQuantity(t, p, "b1", 10)
	if evs := p.Events(); len(evs) != 0 {
		t.Errorf("events = %#v, want none", evs)
	}
	if got := available(t, p, "b1"); got != 0 {
		t.Errorf("available = %d, want 0", got)
	}
}

func TestChangeBatchQuantityToZeroDeallocatesEverything(t *testing.T) {
	p := newProduct(t, "LAMP", batchSpec{"b1", 20, nil})
	mustAllocate(t, p, mustLine(t, "o1", "LAMP", 1))
	mustAllocate(t, p, mustLine(t, "o2", "LAMP", 1))
	p.PopEvents()
	mustChangeQuantity(t, p, "b1", 0)
	evs := p.Events()
	if len(evs) != 2 || evs[0].(Deallocated).OrderID != "o2" || evs[1].(Deallocated).OrderID != "o1" {
		t.Errorf("events = %#v, want Deallocated o2 then o1", evs)
	}
	if got := available(t, p, "b1"); got != 0 {
		t.Errorf("available = %d, want 0", got)
	}
}

func TestChangeBatchQuantityErrors(t *testing.T) {
	t.Run("unknown batch", func(t *testing.T) {
		p := newProduct(t, "LAMP", batchSpec{"b1", 20, nil})
		err := p.ChangeBatchQuantity("b2", 5)
		var nf BatchNotFoundError
		if !errors.As(err, &nf) || nf.Ref != "b2" {
			t.Fatalf("err = %#v, want BatchNotFoundError{b2}", err)
		}
	})
	t.Run("negative quantity", func(t *testing.T) {
		p := newProduct(t, "LAMP", batchSpec{"b1", 20, nil})
		mustAllocate(t, p, mustLine(t, "o1", "LAMP", 5))
		p.PopEvents()
		err := p.ChangeBatchQuantity("b1", -1)
		var verr ValidationError
		if !errors.As(err, &verr) || verr.Field != "qty" {
			t.Fatalf("err = %#v, want ValidationError{Field: qty}", err)
		}
		b, _ := p.Batch("b1")
		if b.PurchasedQuantity() != 20 || b.AvailableQuantity() != 15 || len(p.Events()) != 0 {
			t.Errorf("batch changed: purchased %d available %d events %d", b.PurchasedQuantity(), b.AvailableQuantity(), len(p.Events()))
		}
	})
}

func TestAddBatch(t *testing.T) {
	t.Run("adds a batch of the product's sku", func(t *testing.T) {
		p := newProduct(t, "LAMP")
		if err := p.AddBatch("b1", 10, datePtr(today)); err != nil {
			t.Fatalf("AddBatch: %v", err)
		}
		b, ok := p.Batch("b1")
		if !ok {
			t.Fatal("Batch(b1) not found")
		}
		eta, hasETA := b.ETA()
		if b.SKU() != "LAMP" || b.PurchasedQuantity() != 10 || !hasETA || !eta.Equal(today) {
			t.Errorf("batch = (%q, %d, %v %v), want (LAMP, 10, %v)", b.SKU(), b.PurchasedQuantity(), eta, hasETA, today)
		}
		if len(p.Events()) != 0 {
			t.Errorf("events = %#v, want none", p.Events())
		}
	})
	t.Run("duplicate ref", func(t *testing.T) {
		p := newProduct(t, "LAMP", batchSpec{"b1", 10, nil})
		err := p.AddBatch("b1", 99, datePtr(today))
		var dup DuplicateBatchError
		if !errors.As(err, &dup) || dup.Ref != "b1" {
			t.Fatalf("err = %#v, want DuplicateBatchError{b1}", err)
		}
		if n := len(p.Batches()); n != 1 {
			t.Errorf("len(Batches) = %d, want 1", n)
		}
		if b, _ := p.Batch("b1"); b.PurchasedQuantity() != 10 {
			t.Errorf("existing batch qty = %d, want 10", b.PurchasedQuantity())
		}
	})
	t.Run("invalid values", func(t *testing.T) {
		for _, tc := range []struct {
			ref   string
			qty   int
			field string
		}{{"", 10, "ref"}, {"b1", 0, "qty"}, {"b1", -5, "qty"}} {
			p := newProduct(t, "LAMP")
			err := p.AddBatch(tc.ref, tc.qty, nil)
			var verr ValidationError
			if !errors.As(err, &verr) || verr.Field != tc.field {
				t.Errorf("AddBatch(%q, %d) err = %#v, want ValidationError{Field: %s}", tc.ref, tc.qty, err, tc.field)
			}
			if len(p.Batches()) != 0 {
				t.Errorf("AddBatch(%q, %d) added a batch", tc.ref, tc.qty)
			}
		}
	})
}

func TestBatchesKeepInsertionOrder(t *testing.T) {
	p := newProduct(t, "LAMP",
		batchSpec{"late", 10, datePtr(later)},
		batchSpec{"wh", 10, nil},
		batchSpec{"early", 10, datePtr(today)},
	)
	mustAllocate(t, p, mustLine(t, "o1", "LAMP", 1)) // allocation must not reorder
	var refs []string
	for _, b := range p.Batches() {
		refs = append(refs, b.Ref())
	}
	if want := []string{"late", "wh", "early"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("Batches = %v, want %v", refs, want)
	}
}

func TestPopEventsReturnsAndForgetsEvents(t *testing.T) {
	p := newProduct(t, "LAMP", batchSpec{"b1", 10, nil})
	mustAllocate(t, p, mustLine(t, "o1", "LAMP", 1))
	mustAllocate(t, p, mustLine(t, "o2", "LAMP", 1))
	popped := p.PopEvents()
	if len(popped) != 2 || popped[0].(Allocated).OrderID != "o1" || popped[1].(Allocated).OrderID != "o2" {
		t.Errorf("PopEvents = %#v, want Allocated o1, o2", popped)
	}
	if evs := p.Events(); len(evs) != 0 {
		t.Errorf("Events after PopEvents = %#v, want none", evs)
	}
	if again := p.PopEvents(); len(again) != 0 {
		t.Errorf("second PopEvents = %#v, want none", again)
	}
}

func TestUnmarshalProductFromDatabase(t *testing.T) {
	b1, err := UnmarshalBatchFromDatabase("b1", "LAMP", 10, nil, 4, []OrderLine{mustLine(t, "o1", "LAMP", 4)}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := UnmarshalProductFromDatabase("LAMP", 7, []*Batch{b1})
	if err != nil {
		t.Fatalf("UnmarshalProductFromDatabase: %v", err)
	}
	if p.Version() != 7 || len(p.Events()) != 0 {
		t.Errorf("version %d events %d, want 7, 0", p.Version(), len(p.Events()))
	}
	if ref := mustAllocate(t, p, mustLine(t, "o1", "LAMP", 4)); ref != "b1" || p.Version() != 7 {
		t.Errorf("re-allocating stored line: ref %q version %d, want b1, 7", ref, p.Version())
	}
	mustAllocate(t, p, mustLine(t, "o2", "LAMP", 6))
	want := []Event{Allocated{OrderID: "o2", SKU: "LAMP", Qty: 6, BatchRef: "b1", Version: 8}}
	if got := p.Events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %#v, want %#v", got, want)
	}
	if _, err := UnmarshalProductFromDatabase("", 1, nil); !errors.As(err, new(ValidationError)) {
		t.Errorf("empty sku err = %v, want ValidationError", err)
	}
}

// A change of a batch's quantity older than the last one applied (a late or
// replayed message) changes nothing; changes without a sequence are not
// ordered and always apply.
func TestAStaleBatchQuantityChangeChangesNothing(t *testing.T) {
	p := newProduct(t, "LAMP", batchSpec{ref: "b1", qty: 10})
	apply := func(qty int, sequence string) error {
		return p.ApplyBatchQuantityChange(ChangeBatchQuantity{Ref: "b1", Qty: qty, Sequence: sequence})
	}
	if err := apply(20, "0002"); err != nil {
		t.Fatal(err)
	}
	version := p.Version()
	for _, tc := range []struct {
		name     string
		qty      int
		sequence string
	}{{"older", 5, "0001"}, {"the same, delivered again", 20, "0002"}} {
		var stale StaleChangeError
		if err := apply(tc.qty, tc.sequence); !errors.As(err, &stale) || stale.Applied != "0002" {
			t.Errorf("%s: err = %v, want StaleChangeError after 0002", tc.name, err)
		}
	}
	b, _ := p.Batch("b1")
	if b.PurchasedQuantity() != 20 || p.Version() != version {
		t.Errorf("after stale changes: qty %d version %d, want 20 and %d", b.PurchasedQuantity(), p.Version(), version)
	}
	// A newer change with the same quantity still moves the mark.
	if err := apply(20, "0003"); err != nil || b.LastChange() != "0003" {
		t.Errorf("newer change with the same qty: err %v, last change %q", err, b.LastChange())
	}
	if err := apply(7, ""); err != nil || b.PurchasedQuantity() != 7 {
		t.Errorf("unordered change: err %v, qty %d, want 7", err, b.PurchasedQuantity())
	}
}
