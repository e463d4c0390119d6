package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"testing"
)

var updateChart = flag.Bool("update", false, "redraw results/chart.png from results/results.json")

// The chart is drawn from the committed results: a valid PNG of the
// expected size, written back with -update.
func TestChartDrawsTheCommittedResults(t *testing.T) {
	raw, err := os.ReadFile("results/results.json")
	if err != nil {
		t.Fatal(err)
	}
	var r Results
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Configs) == 0 {
		t.Fatal("no configurations in results.json")
	}
	data, err := drawChart(&r)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 300 {
		t.Fatalf("chart is %dx%d", b.Dx(), b.Dy())
	}
	if *updateChart {
		if err := os.WriteFile("results/chart.png", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
