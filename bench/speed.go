package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"time"
)

// The machine's speed drifts (see BENCHMARKS.md, Noise): the same build
// measured minutes apart differed by more than any one change. A probe at
// the start and at the end of a run tells in which phase its figures were
// taken, so that runs can be compared: pure CPU work, and a loopback TCP
// round trip, which is what most of an allocation's time goes to.

// SpeedProbe is one probe's figures.
type SpeedProbe struct {
	// HashNanos: nanoseconds per SHA-256 of 1 KiB, on one goroutine.
	HashNanos float64 `json:"sha256_1kib_ns"`
	// RoundTripMicros: microseconds per 1-byte ping-pong over loopback TCP.
	RoundTripMicros float64 `json:"loopback_round_trip_us"`
}

func (p SpeedProbe) String() string {
	return fmt.Sprintf("SHA-256 of 1 KiB %.0f ns, loopback TCP round trip %.0f µs", p.HashNanos, p.RoundTripMicros)
}

const (
	probeHashes     = 200_000
	probeRoundTrips = 5_000
)

func probeSpeed() (SpeedProbe, error) {
	var p SpeedProbe
	buf := make([]byte, 1024)
	start := time.Now()
	for i := range probeHashes {
		buf[0] = byte(i)
		sum := sha256.Sum256(buf)
		buf[1] = sum[0]
	}
	p.HashNanos = float64(time.Since(start).Nanoseconds()) / probeHashes

	rt, err := probeLoopback(probeRoundTrips)
	if err != nil {
		return p, fmt.Errorf("loopback probe: %w", err)
	}
	p.RoundTripMicros = float64(rt.Nanoseconds()) / 1000
	return p, nil
}

// probeLoopback returns the mean time of n 1-byte round trips to an echo
// server on 127.0.0.1.
func probeLoopback(n int) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	b := []byte{0}
	start := time.Now()
	for range n {
		if _, err := c.Write(b); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}
