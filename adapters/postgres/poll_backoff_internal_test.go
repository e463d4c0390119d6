package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

const (
	testPoll    = 2 * time.Millisecond
	neverInTest = time.Hour
	testTimeout = 10 * time.Second
)

// handleAsync calls HandleError in a goroutine; the result arrives on the
// channel when the call returns.
func handleAsync(b *relayBackoff, noMsg bool) <-chan time.Duration {
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

func TestRelayBackoffWaitsWhileIdleUntilThisProcessCommitsEvents(t *testing.T) {
	signal := NewOutboxSignal()
	b := newRelayBackoff(testPoll, neverInTest, signal)
	done := handleAsync(b, true)
	waitFor(t, func() bool { return b.idleWaits.Load() == 1 })
	signal.Notify()
	// Only the signal can end this wait within the test: the idle
	// interval is an hour, and the active path would return testPoll.
	if wait := awaitReturn(t, done); wait != 0 {
		t.Fatalf("woken relay waits %v before polling, want 0", wait)
	}
	// Woken, it polls every testPoll again, even when that poll finds
	// nothing (the row may wait behind an older transaction).
	if wait := b.HandleError(watermill.NopLogger{}, true, nil); wait != testPoll {
		t.Fatalf("after a signal: wait %v, want %v", wait, testPoll)
	}
}

func TestRelayBackoffPollsAtItsIdleIntervalWithoutSignal(t *testing.T) {
	b := newRelayBackoff(testPoll, 20*time.Millisecond, nil)
	if wait := awaitReturn(t, handleAsync(b, true)); wait != 0 {
		t.Fatalf("wait %v after the idle interval, want 0", wait)
	}
	if b.idleWaits.Load() != 1 {
		t.Fatalf("%d idle waits, want 1", b.idleWaits.Load())
	}
}

func TestRelayBackoffStaysActiveWhileEventsFlow(t *testing.T) {
	b := newRelayBackoff(testPoll, neverInTest, NewOutboxSignal())
	if wait := b.HandleError(watermill.NopLogger{}, false, nil); wait != testPoll {
		t.Fatalf("events found: wait %v, want %v (gather)", wait, testPoll)
	}
	for range 3 {
		if wait := b.HandleError(watermill.NopLogger{}, true, nil); wait != testPoll {
			t.Fatalf("nothing found soon after events: wait %v, want %v", wait, testPoll)
		}
	}
	if b.idleWaits.Load() != 0 {
		t.Fatal("an active relay waited for a signal")
	}
}

func TestRelayBackoffStopEndsTheWaitAndAllLaterOnes(t *testing.T) {
	b := newRelayBackoff(testPoll, neverInTest, NewOutboxSignal())
	done := handleAsync(b, true)
	waitFor(t, func() bool { return b.idleWaits.Load() == 1 })
	b.stop()
	if wait := awaitReturn(t, done); wait != testPoll {
		t.Fatalf("stopped: wait %v, want %v", wait, testPoll)
	}
	awaitReturn(t, handleAsync(b, true))
	b.stop() // twice is harmless
}

func TestRelayBackoffWithoutIdleIntervalNeverWaits(t *testing.T) {
	b := newRelayBackoff(testPoll, 0, NewOutboxSignal())
	if wait := b.HandleError(watermill.NopLogger{}, true, nil); wait != testPoll {
		t.Fatalf("wait %v, want %v", wait, testPoll)
	}
	if wait := b.HandleError(watermill.NopLogger{}, true, errors.New("connection refused")); wait != time.Second {
		t.Fatalf("after an error: wait %v, want the retry interval", wait)
	}
}

func TestOutboxSignalMergesNotificationsAndNeverBlocks(t *testing.T) {
	s := NewOutboxSignal()
	for range 3 {
		s.Notify()
	}
	<-s.notified()
	select {
	case <-s.notified():
		t.Fatal("three notifications were not merged into one")
	default:
	}
	var none *OutboxSignal
	none.Notify()
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
