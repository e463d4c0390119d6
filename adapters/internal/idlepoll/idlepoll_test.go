package idlepoll

import (
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

const (
	testPoll    = 2 * time.Millisecond
	testRetry   = time.Second
	neverInTest = time.Hour
	testTimeout = 10 * time.Second
)

func newBackoff(idle time.Duration, signal *Signal) *Backoff {
	// The library's default: after messages poll at once, after none wait
	// testPoll, after an error testRetry.
	return New(watermillsql.NewDefaultBackoffManager(testPoll, testRetry), idle, signal)
}

// handleAsync calls HandleError in a goroutine; the result arrives on the
// channel when the call returns.
func handleAsync(b *Backoff, noMsg bool) <-chan time.Duration {
	done := make(chan time.Duration, 1)
	go func() { done <- b.HandleError(watermill.NopLogger{}, noMsg, nil) }()
	return done
}

func awaitReturn(t *testing.T, done <-chan time.Duration) time.Duration {
	t.Helper()
	select {
	case wait := <-done:
		return wait
	case <-time.After(testTimeout):
		t.Fatal("HandleError did not return")
		return 0
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIdleBackoffWaitsUntilSignalled(t *testing.T) {
	signal := NewSignal()
	b := newBackoff(neverInTest, signal)
	done := handleAsync(b, true)
	waitFor(t, func() bool { return b.IdleWaits() == 1 })
	signal.Notify()
	// Only the signal can end this wait within the test: the idle
	// interval is an hour, and the active path would return testPoll.
	if wait := awaitReturn(t, done); wait != 0 {
		t.Fatalf("woken: wait %v before polling, want 0", wait)
	}
	// Woken, it polls at next's pace again, even when that poll finds
	// nothing (the row may wait behind an older transaction).
	if wait := b.HandleError(watermill.NopLogger{}, true, nil); wait != testPoll {
		t.Fatalf("after a signal: wait %v, want %v", wait, testPoll)
	}
}

func TestIdleBackoffPollsAtItsIdleIntervalWithoutSignal(t *testing.T) {
	b := newBackoff(20*time.Millisecond, nil)
	if wait := awaitReturn(t, handleAsync(b, true)); wait != 0 {
		t.Fatalf("wait %v after the idle interval, want 0", wait)
	}
	if b.IdleWaits() != 1 {
		t.Fatalf("%d idle waits, want 1", b.IdleWaits())
	}
}

func TestIdleBackoffStaysActiveWhileMessagesFlow(t *testing.T) {
	b := newBackoff(neverInTest, NewSignal())
	if wait := b.HandleError(watermill.NopLogger{}, false, nil); wait != 0 {
		t.Fatalf("messages found: wait %v, want next's 0", wait)
	}
	for range 3 {
		if wait := b.HandleError(watermill.NopLogger{}, true, nil); wait != testPoll {
			t.Fatalf("nothing found soon after messages: wait %v, want %v", wait, testPoll)
		}
	}
	if b.IdleWaits() != 0 {
		t.Fatal("an active poller waited for a signal")
	}
}

func TestIdleBackoffStopEndsTheWaitAndAllLaterOnes(t *testing.T) {
	b := newBackoff(neverInTest, NewSignal())
	done := handleAsync(b, true)
	waitFor(t, func() bool { return b.IdleWaits() == 1 })
	b.Stop()
	if wait := awaitReturn(t, done); wait != testPoll {
		t.Fatalf("stopped: wait %v, want %v", wait, testPoll)
	}
	awaitReturn(t, handleAsync(b, true))
	b.Stop() // twice is harmless
}

func TestIdleBackoffWithoutIdleIntervalIsNext(t *testing.T) {
	b := newBackoff(0, NewSignal())
	if wait := b.HandleError(watermill.NopLogger{}, true, nil); wait != testPoll {
		t.Fatalf("wait %v, want %v", wait, testPoll)
	}
	if wait := b.HandleError(watermill.NopLogger{}, true, errors.New("connection refused")); wait != testRetry {
		t.Fatalf("after an error: wait %v, want %v", wait, testRetry)
	}
	b.SetIdleInterval(neverInTest)
	done := handleAsync(b, true)
	waitFor(t, func() bool { return b.IdleWaits() == 1 })
	b.Stop()
	awaitReturn(t, done)
}

func TestSignalMergesNotificationsAndNeverBlocks(t *testing.T) {
	s := NewSignal()
	for range 3 {
		s.Notify()
	}
	<-s.C()
	select {
	case <-s.C():
		t.Fatal("three notifications were not merged into one")
	default:
	}
	var none *Signal
	none.Notify()
	if none.C() != nil {
		t.Fatal("a nil signal has a channel")
	}
}
