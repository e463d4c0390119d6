package main

import (
	"io"
	"slices"
	"testing"
)

// A run of some scenarios writes none of the full run's outputs unless
// asked to, so that trying the flash sale alone keeps BENCHMARKS.md as the
// last full run left it.
func TestPartialRunWritesOnlyWhatItIsAskedTo(t *testing.T) {
	full, err := parseOptions(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if full.markdownPath == "" || full.resultsPath == "" {
		t.Fatalf("a full run writes every output: %+v", full)
	}
	partial, err := parseOptions([]string{"-scenarios", "flash,history", "-results", "/tmp/r.json"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if partial.markdownPath != "" || partial.resultsPath != "/tmp/r.json" {
		t.Fatalf("partial run: markdown %q, results %q", partial.markdownPath, partial.resultsPath)
	}
	if _, err := parseOptions([]string{"-scenarios", "flash,nope"}, nil, io.Discard); err == nil {
		t.Fatal("an unknown scenario was accepted")
	}
}

// The flash sale's stock is the share of the round's orders asked for,
// split evenly between the hot skus and, per sku, over its three batches.
func TestFlashStockAddsUp(t *testing.T) {
	o := options{flashOrders: 3000}
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

// The services get README's GOGC and GOMAXPROCS unless the environment
// sets them, and -service-env comes after them, so that it wins.
func TestServicesGetTheRecommendedRuntimeSettings(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		procs int
		want  []string
	}{
		{name: "2 cores", procs: 2, want: []string{"GOGC=400", "GOMAXPROCS=4"}},
		{name: "8 cores", procs: 8, want: []string{"GOGC=400", "GOMAXPROCS=8"}},
		{name: "set by the operator", env: map[string]string{"GOGC": "100", "GOMAXPROCS": "1"}, procs: 1, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runtimeSettings(func(k string) string { return tt.env[k] }, tt.procs)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("runtimeSettings = %q, want %q", got, tt.want)
			}
		})
	}
	o, err := parseOptions([]string{"-service-env", "GOGC=100"}, []string{"GOGC=400"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"GOGC=400", "GOGC=100"}; !slices.Equal(o.serviceEnv, want) {
		t.Fatalf("service environment %q, want %q (the last one wins)", o.serviceEnv, want)
	}
}
