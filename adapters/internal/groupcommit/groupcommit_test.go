package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// gatedWriter records the batches it is given; each write waits for the
// test to open the gate.
type gatedWriter struct {
	mu      sync.Mutex
	batches [][]int
	started chan struct{}
	gate    chan struct{}
	failIf  func(items []int) error
}

func (w *gatedWriter) write(_ context.Context, items []int) error {
	w.mu.Lock()
	w.batches = append(w.batches, append([]int(nil), items...))
	w.mu.Unlock()
	w.started <- struct{}{}
	<-w.gate
	if w.failIf != nil {
		return w.failIf(items)
	}
	return nil
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{started: make(chan struct{}, 100), gate: make(chan struct{}, 100)}
}

func waitStarted(t *testing.T, w *gatedWriter) {
	t.Helper()
	select {
	case <-w.started:
	case <-time.After(5 * time.Second):
		t.Fatal("no write started")
	}
}

// waitQueued waits until n writes wait in the queue.
func waitQueued(t *testing.T, g *Writer[int], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		queued := len(g.queue)
		g.mu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d writes, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWritesWhatGatheredDuringABatchInTheNextOne(t *testing.T) {
	w := newGatedWriter()
	g := New(time.Second, w.write)
	results := make(chan error, 4)
	do := func(i int) { results <- g.Do(context.Background(), i) }

	go do(1)
	waitStarted(t, w) // the lone write goes at once
	for i := 2; i <= 4; i++ {
		go do(i)
	}
	// The three join the queue while the first batch is out.
	waitQueued(t, g, 3)
	w.gate <- struct{}{}
	waitStarted(t, w)
	w.gate <- struct{}{}
	for range 4 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.batches) != 2 || len(w.batches[0]) != 1 || len(w.batches[1]) != 3 {
		t.Fatalf("batches %v, want [1] then the other three together", w.batches)
	}
}

func TestTriesEachWriteAloneWhenABatchFails(t *testing.T) {
	bad := errors.New("bad row")
	w := newGatedWriter()
	w.failIf = func(items []int) error {
		for _, i := range items {
			if i == 3 {
				return bad
			}
		}
		return nil
	}
	g := New(time.Second, w.write)
	results := map[int]chan error{}
	for i := 1; i <= 3; i++ {
		results[i] = make(chan error, 1)
	}
	go func() { results[1] <- g.Do(context.Background(), 1) }()
	waitStarted(t, w)
	go func() { results[2] <- g.Do(context.Background(), 2) }()
	go func() { results[3] <- g.Do(context.Background(), 3) }()
	waitQueued(t, g, 2)
	for range 4 { // the first batch, the failing pair, then 2 and 3 alone
		w.gate <- struct{}{}
	}
	if err := <-results[1]; err != nil {
		t.Errorf("write 1: %v", err)
	}
	if err := <-results[2]; err != nil {
		t.Errorf("write 2 failed with its batch: %v; want it retried alone and done", err)
	}
	if err := <-results[3]; !errors.Is(err, bad) {
		t.Errorf("write 3: %v, want its own error", err)
	}
}

func TestCallerStopsWaitingWhenItsContextEnds(t *testing.T) {
	w := newGatedWriter()
	g := New(time.Second, w.write)
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- g.Do(ctx, 1) }()
	waitStarted(t, w)
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	w.gate <- struct{}{}
}
