package pubsub

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"allocation/tests/testenv"
)

// roundTripCounter is a go-redis hook that records what each round trip to
// Redis carried: one entry per command or per pipeline.
type roundTripCounter struct {
	mu    sync.Mutex
	trips [][]string
}

func (h *roundTripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *roundTripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		return next(ctx, cmds)
	}
}

func (h *roundTripCounter) record(cmds ...redis.Cmder) {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = strings.ToLower(c.Name())
	}
	h.mu.Lock()
	h.trips = append(h.trips, names)
	h.mu.Unlock()
}

// count says how many round trips carried the command, and how many
// commands of that name were sent in all.
func (h *roundTripCounter) count(name string) (trips, commands int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, trip := range h.trips {
		n := 0
		for _, c := range trip {
			if c == name {
				n++
			}
		}
		if n > 0 {
			trips++
			commands += n
		}
	}
	return trips, commands
}

// tripsWithBoth counts the round trips that carried both commands.
func (h *roundTripCounter) tripsWithBoth(a, b string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, trip := range h.trips {
		joined := " " + strings.Join(trip, " ") + " "
		if strings.Contains(joined, " "+a+" ") && strings.Contains(joined, " "+b+" ") {
			n++
		}
	}
	return n
}

// cuttableProxy is testenv's proxy under the names these tests use: cut
// closes the connections and refuses new ones, counted, until restore.
type cuttableProxy struct{ *testenv.Proxy }

func newCuttableProxy(t *testing.T, target string) cuttableProxy {
	return cuttableProxy{testenv.StartProxy(t, target)}
}

func (p cuttableProxy) addr() string { return p.Addr() }
func (p cuttableProxy) cut()         { p.Refuse() }
func (p cuttableProxy) restore()     { p.Start() }
func (p cuttableProxy) refused() int { return p.Refused() }
