package main

import (
	"io"
	"testing"
)

// A run of some scenarios writes none of the full run's outputs unless
// asked to, so that trying the flash sale alone keeps BENCHMARKS.md as the
// last full run left it.
func TestPartialRunWritesOnlyWhatItIsAskedTo(t *testing.T) {
	full, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if full.markdownPath == "" || full.resultsPath == "" || full.chartPath == "" {
		t.Fatalf("a full run writes every output: %+v", full)
	}
	partial, err := parseOptions([]string{"-scenarios", "flash,history", "-results", "/tmp/r.json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if partial.markdownPath != "" || partial.chartPath != "" || partial.resultsPath != "/tmp/r.json" {
		t.Fatalf("partial run: markdown %q, chart %q, results %q", partial.markdownPath, partial.chartPath, partial.resultsPath)
	}
	if _, err := parseOptions([]string{"-scenarios", "flash,nope"}, io.Discard); err == nil {
		t.Fatal("an unknown scenario was accepted")
	}
}

// The flash sale's stock is the share of the round's orders asked for,
// split evenly between the hot skus and, per sku, over its three batches.
func TestFlashStockAddsUp(t *testing.T) {
	o := options{flashOrders: 3000, flashStock: 0.75}
	for _, hot := range []int{1, 5, 7} {
		perSKU, batches := flashStock(o, hot)
		if batches[0]+batches[1]+batches[2] != perSKU {
			t.Errorf("%d hot skus: batches %v do not add up to %d", hot, batches, perSKU)
		}
		if total := perSKU * hot; total > 2250 || total < 2250-hot {
			t.Errorf("%d hot skus: %d units in all, want 2250 (less the remainder)", hot, total)
		}
	}
}
