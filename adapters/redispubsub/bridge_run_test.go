package redispubsub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"allocation/adapters/redispubsub"
)

// runningBridge is an InboundBridge running until stopped (or the test
// ends), with what its hooks reported.
type runningBridge struct {
	holder string
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	steps    int
	holding  bool
	appended int
	failures map[string]int
}

// startBridge runs a bridge of cfg; the hooks are the test's.
func startBridge(t *testing.T, cfg redispubsub.InboundBridgeConfig) *runningBridge {
	t.Helper()
	r := &runningBridge{holder: cfg.Holder, done: make(chan struct{}), failures: map[string]int{}}
	cfg.OnHolding = func(held bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.steps++
		r.holding = held
	}
	cfg.OnAppended = func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.appended++
	}
	cfg.OnAppendFailed = func(reason string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.failures[reason]++
	}
	bridge, err := redispubsub.NewInboundBridge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		if err := bridge.Run(ctx); err != nil {
			t.Errorf("bridge %s: Run = %v", cfg.Holder, err)
		}
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the run and waits for Run to return.
func (r *runningBridge) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(waitTimeout):
		t.Fatalf("bridge %s did not stop within %s", r.holder, waitTimeout)
	}
}

// state is what the hooks have reported so far.
func (r *runningBridge) state() (steps int, holding bool, appended int, failures map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	copied := make(map[string]int, len(r.failures))
	for k, v := range r.failures {
		copied[k] = v
	}
	return r.steps, r.holding, r.appended, copied
}

func (r *runningBridge) isHolding() bool {
	_, holding, _, _ := r.state()
	return holding
}

// hasStepped tells whether the bridge has tried the lease at least n times.
func (r *runningBridge) hasStepped(n int) bool {
	steps, _, _, _ := r.state()
	return steps >= n
}
