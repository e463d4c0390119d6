package messagebus

import (
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/internal/workerpool"
)

func TestHandlerWorkersReturnWhatTheHandlerReturns(t *testing.T) {
	w := runOnWorkers(workerpool.New(2, time.Minute, (*handlerRun).run))
	produced := message.NewMessage("out", nil)
	failure := errors.New("handler failed")
	tests := []struct {
		name    string
		out     []*message.Message
		err     error
		wantOut int
	}{
		{name: "messages", out: []*message.Message{produced}, wantOut: 1},
		{name: "error", err: failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *message.Message
			h := w(func(msg *message.Message) ([]*message.Message, error) {
				got = msg
				return tt.out, tt.err
			})
			in := message.NewMessage("in", nil)
			out, err := h(in)
			if got != in {
				t.Fatalf("handler got %v, want the message passed in", got)
			}
			if !errors.Is(err, tt.err) || len(out) != tt.wantOut {
				t.Fatalf("got %v, %v; want %d messages, %v", out, err, tt.wantOut, tt.err)
			}
		})
	}
}

func TestHandlerWorkersRunOnTheCallerWhenAllAreBusy(t *testing.T) {
	w := runOnWorkers(workerpool.New(1, time.Minute, (*handlerRun).run))
	release := make(chan struct{})
	started := make(chan struct{})
	blocking := w(func(*message.Message) ([]*message.Message, error) {
		close(started)
		<-release
		return nil, nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := blocking(message.NewMessage("blocking", nil))
		done <- err
	}()
	<-started

	// The only worker is blocked: this one must still run, on the caller,
	// rather than wait for the worker.
	ran := make(chan struct{})
	quick := w(func(*message.Message) ([]*message.Message, error) {
		close(ran)
		return nil, nil
	})
	go func() { _, _ = quick(message.NewMessage("quick", nil)) }()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not run while the only worker was busy")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHandlerWorkersRaiseAPanicOnTheCaller(t *testing.T) {
	w := runOnWorkers(workerpool.New(1, time.Minute, (*handlerRun).run))
	h := w(func(*message.Message) ([]*message.Message, error) { panic("boom") })
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the handler's panic", r)
		}
		// The worker survived and serves the next message.
		ok := w(func(*message.Message) ([]*message.Message, error) { return nil, nil })
		if _, err := ok(message.NewMessage("next", nil)); err != nil {
			t.Fatal(err)
		}
	}()
	_, _ = h(message.NewMessage("m", nil))
	t.Fatal("no panic reached the caller")
}
