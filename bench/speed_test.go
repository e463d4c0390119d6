package main

import (
	"strings"
	"testing"
)

func TestProbeSpeedMeasuresBoth(t *testing.T) {
	p, err := probeSpeed()
	if err != nil {
		t.Fatal(err)
	}
	if p.HashNanos <= 0 || p.RoundTripMicros <= 0 {
		t.Fatalf("probe = %+v, want both figures positive", p)
	}
	t.Log(p)
	if s := p.String(); !strings.Contains(s, "SHA-256") || !strings.Contains(s, "round trip") {
		t.Fatalf("probe reads %q", s)
	}
}
