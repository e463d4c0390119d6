package domain

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var (
	today    = time.Date(2024, time.March, 10, 0, 0, 0, 0, time.UTC)
	tomorrow = today.AddDate(0, 0, 1)
	later    = today.AddDate(0, 0, 10)
)

func datePtr(t time.Time) *time.Time { return &t }

// mustBatch builds a batch or stops the test.
func mustBatch(t testing.TB, ref, sku string, qty int, eta *time.Time) *Batch {
	t.Helper()
	b, err := NewBatch(ref, sku, qty, eta)
	if err != nil {
		t.Fatalf("NewBatch(%q, %q, %d): %v", ref, sku, qty, err)
	}
	return b
}

func TestNewBatchKeepsValuesAndTruncatesETAToDate(t *testing.T) {
	eta := time.Date(2024, time.March, 11, 17, 45, 0, 0, time.UTC)
	b := mustBatch(t, "batch1", "RED-CHAIR", 20, &eta)
	if b.Ref() != "batch1" || b.SKU() != "RED-CHAIR" || b.PurchasedQuantity() != 20 {
		t.Errorf("batch = (%q, %q, %d), want (batch1, RED-CHAIR, 20)", b.Ref(), b.SKU(), b.PurchasedQuantity())
	}
	got, ok := b.ETA()
	if !ok || !got.Equal(tomorrow) {
		t.Errorf("ETA() = %v, %v, want %v, true", got, ok, tomorrow)
	}
	eta = eta.AddDate(1, 0, 0) // the batch must not alias the caller's value
	if got, _ := b.ETA(); !got.Equal(tomorrow) {
		t.Errorf("ETA() after caller changed its time = %v, want %v", got, tomorrow)
	}

	warehouse := mustBatch(t, "batch2", "RED-CHAIR", 20, nil)
	if got, ok := warehouse.ETA(); ok || !got.IsZero() {
		t.Errorf("warehouse ETA() = %v, %v, want zero, false", got, ok)
	}
}

func TestAllocatingToABatchReducesTheAvailableQuantity(t *testing.T) {
	b := mustBatch(t, "batch-001", "SMALL-TABLE", 20, datePtr(today))
	line := mustLine(t, "order-ref", "SMALL-TABLE", 2)
	if err := b.Allocate(line); err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if got := b.AvailableQuantity(); got != 18 {
		t.Errorf("AvailableQuantity = %d, want 18", got)
	}
	if got := b.AllocatedQuantity(); got != 2 {
		t.Errorf("AllocatedQuantity = %d, want 2", got)
	}
	if !b.HasLine("order-ref") {
		t.Error("HasLine(order-ref) = false, want true")
	}
}

func TestBatchCanAllocate(t *testing.T) {
	tests := []struct {
		name     string
		batchQty int
		lineSKU  string
		lineQty  int
		want     bool
	}{
		{"available greater than required", 20, "ELEGANT-LAMP", 2, true},
		{"available smaller than required", 2, "ELEGANT-LAMP", 20, false},
		{"available equal to required", 2, "ELEGANT-LAMP", 2, true},
		{"sku mismatch", 100, "EXPENSIVE-TOASTER", 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBatch(t, "batch-001", "ELEGANT-LAMP", tt.batchQty, nil)
			line := mustLine(t, "order-123", tt.lineSKU, tt.lineQty)
			if got := b.CanAllocate(line); got != tt.want {
				t.Errorf("CanAllocate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBatchCanAllocateAccountsForAllocatedLines(t *testing.T) {
	b := mustBatch(t, "batch-001", "ELEGANT-LAMP", 10, nil)
	if err := b.Allocate(mustLine(t, "order-1", "ELEGANT-LAMP", 7)); err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if !b.CanAllocate(mustLine(t, "order-2", "ELEGANT-LAMP", 3)) {
		t.Error("CanAllocate(3) with 3 left = false, want true")
	}
	if b.CanAllocate(mustLine(t, "order-2", "ELEGANT-LAMP", 4)) {
		t.Error("CanAllocate(4) with 3 left = true, want false")
	}
}

func TestBatchAllocateRefusesWhatItCannotTake(t *testing.T) {
	t.Run("sku mismatch", func(t *testing.T) {
		b := mustBatch(t, "batch-001", "ELEGANT-LAMP", 10, nil)
		err := b.Allocate(mustLine(t, "order-1", "TOASTER", 1))
		var mismatch SKUMismatchError
		if !errors.As(err, &mismatch) {
			t.Fatalf("err = %v (%T), want SKUMismatchError", err, err)
		}
		if want := (SKUMismatchError{BatchSKU: "ELEGANT-LAMP", LineSKU: "TOASTER"}); mismatch != want {
			t.Errorf("err = %+v, want %+v", mismatch, want)
		}
		if b.AllocatedQuantity() != 0 {
			t.Errorf("AllocatedQuantity = %d, want 0", b.AllocatedQuantity())
		}
	})
	t.Run("not enough stock", func(t *testing.T) {
		b := mustBatch(t, "batch-001", "ELEGANT-LAMP", 10, nil)
		err := b.Allocate(mustLine(t, "order-1", "ELEGANT-LAMP", 11))
		var oos OutOfStockError
		if !errors.As(err, &oos) || oos.SKU != "ELEGANT-LAMP" {
			t.Fatalf("err = %v (%T), want OutOfStockError{ELEGANT-LAMP}", err, err)
		}
		if b.AllocatedQuantity() != 0 {
			t.Errorf("AllocatedQuantity = %d, want 0", b.AllocatedQuantity())
		}
	})
}

func TestBatchAllocationIsIdempotent(t *testing.T) {
	b := mustBatch(t, "batch-001", "ANGULAR-DESK", 20, nil)
	line := mustLine(t, "order-ref", "ANGULAR-DESK", 2)
	for i := 0; i < 2; i++ {
		if err := b.Allocate(line); err != nil {
			t.Fatalf("Allocate #%d: %v", i+1, err)
		}
	}
	if got := b.AvailableQuantity(); got != 18 {
		t.Errorf("AvailableQuantity = %d, want 18", got)
	}
	if got := len(b.Allocations()); got != 1 {
		t.Errorf("len(Allocations) = %d, want 1", got)
	}
}

func TestBatchDeallocate(t *testing.T) {
	cases := []struct {
		name       string
		deallocate string
		want       []string // orders of the lines left, in order
		available  int
	}{
		{"allocated line", "order-2", []string{"order-1", "order-3", "order-4"}, 12},
		{"newest line", "order-4", []string{"order-1", "order-2", "order-3"}, 14},
		{"unallocated line changes nothing", "order-5", []string{"order-1", "order-2", "order-3", "order-4"}, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustBatch(t, "batch-001", "DECORATIVE-TRINKET", 20, nil)
			for i, order := range []string{"order-1", "order-2", "order-3", "order-4"} {
				if err := b.Allocate(mustLine(t, order, "DECORATIVE-TRINKET", i+1)); err != nil {
					t.Fatalf("Allocate: %v", err)
				}
			}
			b.Deallocate(c.deallocate)
			var got []string
			for _, l := range b.Allocations() {
				got = append(got, l.OrderID())
			}
			if !slices.Equal(got, c.want) || b.HasLine(c.deallocate) || b.AvailableQuantity() != c.available {
				t.Errorf("lines %v, available %d; want %v, %d", got, b.AvailableQuantity(), c.want, c.available)
			}
		})
	}
}

func TestBatchAllocationsReturnsACopy(t *testing.T) {
	b := mustBatch(t, "batch-001", "LAMP", 20, nil)
	line := mustLine(t, "order-1", "LAMP", 5)
	if err := b.Allocate(line); err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	got := b.Allocations()
	got[0] = mustLine(t, "order-x", "LAMP", 1)
	if again := b.Allocations(); again[0] != line {
		t.Errorf("Allocations()[0] = %+v after caller changed its copy, want %+v", again[0], line)
	}
}

func TestBatchShipsBefore(t *testing.T) {
	tests := []struct {
		name       string
		eta, other *time.Time
		want       bool
	}{
		{"warehouse before shipment", nil, datePtr(today), true},
		{"shipment after warehouse", datePtr(today), nil, false},
		{"warehouse vs warehouse", nil, nil, false},
		{"earlier before later", datePtr(today), datePtr(tomorrow), true},
		{"later after earlier", datePtr(later), datePtr(tomorrow), false},
		{"same date", datePtr(today), datePtr(today), false},
		{"same date, different time of day", datePtr(today.Add(20 * time.Hour)), datePtr(today.Add(time.Hour)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustBatch(t, "a", "LAMP", 1, tt.eta)
			b := mustBatch(t, "b", "LAMP", 1, tt.other)
			if got := a.shipsBefore(b); got != tt.want {
				t.Errorf("shipsBefore = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnmarshalBatchFromDatabase(t *testing.T) {
	lines := []OrderLine{mustLine(t, "order-1", "LAMP", 3), mustLine(t, "order-2", "LAMP", 4)}
	b, err := UnmarshalBatchFromDatabase("batch-001", "LAMP", 10, nil, 7, lines, "")
	if err != nil {
		t.Fatalf("UnmarshalBatchFromDatabase: %v", err)
	}
	if got := b.AvailableQuantity(); got != 3 {
		t.Errorf("AvailableQuantity = %d, want 3", got)
	}
	lines[0] = mustLine(t, "order-x", "LAMP", 9) // must not alias the caller's slice
	if got := b.Allocations()[0].OrderID(); got != "order-1" {
		t.Errorf("Allocations()[0] = %q after caller changed its slice, want order-1", got)
	}

	for _, tc := range []struct {
		ref, sku             string
		purchased, allocated int
		lines                []OrderLine
	}{
		{"", "LAMP", 1, 0, nil},
		{"b", "", 1, 0, nil},
		{"b", "LAMP", -1, 0, nil},
		{"b", "LAMP", 10, 2, []OrderLine{mustLine(t, "o1", "LAMP", 3)}}, // lines beyond the total
	} {
		if _, err := UnmarshalBatchFromDatabase(tc.ref, tc.sku, tc.purchased, nil, tc.allocated, tc.lines, ""); !errors.As(err, new(ValidationError)) {
			t.Errorf("UnmarshalBatchFromDatabase(%q, %q, %d, %d) err = %v, want ValidationError", tc.ref, tc.sku, tc.purchased, tc.allocated, err)
		}
	}
}

// A batch loaded with some of its lines counts all of them: availability
// comes from the stored total, and a line of an order it was not given
// can still be allocated (the repository gives the lines a command needs).
func TestBatchLoadedWithSomeOfItsLines(t *testing.T) {
	held := mustLine(t, "o-held", "LAMP", 2)
	b, err := UnmarshalBatchFromDatabase("b1", "LAMP", 10, nil, 8, []OrderLine{held}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.AvailableQuantity(); got != 2 {
		t.Fatalf("AvailableQuantity = %d, want 2", got)
	}
	if !b.HasLine("o-held") {
		t.Error("HasLine(o-held) = false for a line it was given")
	}
	if err := b.Allocate(mustLine(t, "o-new", "LAMP", 3)); !errors.As(err, new(OutOfStockError)) {
		t.Fatalf("Allocate 3 of 2 available: err = %v, want OutOfStockError", err)
	}
	if err := b.Allocate(mustLine(t, "o-new", "LAMP", 2)); err != nil {
		t.Fatalf("Allocate 2 of 2 available: %v", err)
	}
	if got := b.AllocatedQuantity(); got != 10 {
		t.Errorf("AllocatedQuantity = %d, want 10", got)
	}
}

func TestBatchRefusesAnotherSkuEvenForAnOrderItHolds(t *testing.T) {
	b := mustBatch(t, "b1", "LAMP", 10, nil)
	if err := b.Allocate(mustLine(t, "o1", "LAMP", 1)); err != nil {
		t.Fatal(err)
	}
	var mismatch SKUMismatchError
	if err := b.Allocate(mustLine(t, "o1", "TABLE", 1)); !errors.As(err, &mismatch) {
		t.Fatalf("err = %v, want SKUMismatchError", err)
	}
}
