package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test when timeout
// passes first: tests wait on conditions, never on the clock.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within %s", what, timeout)
		case <-tick.C:
		}
	}
}
