package domain

import (
	"fmt"
	"testing"
)

// BenchmarkProductAllocate measures Product.Allocate on products holding n
// batches. Batches are added latest eta first (the sort has real work to do)
// and are large, so every line fits in the preferred one. A fresh product
// is built every linesPerProduct allocations, with the timer stopped, so
// that the lines piling up in a batch do not make later iterations slower
// than earlier ones.
func BenchmarkProductAllocate(b *testing.B) {
	const linesPerProduct = 100
	lines := make([]OrderLine, linesPerProduct)
	for i := range lines {
		lines[i] = mustLine(b, fmt.Sprintf("order-%d", i), "BENCH-SKU", 1)
	}
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batches=%d", n), func(b *testing.B) {
			build := func() *Product {
				p, err := NewProduct("BENCH-SKU")
				if err != nil {
					b.Fatal(err)
				}
				for i := n; i > 0; i-- {
					eta := today.AddDate(0, 0, i)
					if err := p.AddBatch(fmt.Sprintf("batch-%d", i), 1_000_000_000, &eta); err != nil {
						b.Fatal(err)
					}
				}
				return p
			}
			p := build()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%linesPerProduct == 0 && i > 0 {
					b.StopTimer()
					p = build()
					b.StartTimer()
				}
				ref, err := p.Allocate(lines[i%linesPerProduct])
				if err != nil || ref != "batch-1" {
					b.Fatalf("Allocate = %q, %v; want batch-1", ref, err)
				}
			}
		})
	}
}
