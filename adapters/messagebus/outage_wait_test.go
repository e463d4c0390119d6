package messagebus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/app"
)

// failingUntil fails with err on its first n calls, then succeeds.
func failingUntil(n int, err error, calls *int) message.HandlerFunc {
	return func(*message.Message) ([]*message.Message, error) {
		*calls++
		if *calls <= n {
			return nil, err
		}
		return nil, nil
	}
}

func TestAMessageWaitsForADependencyThatIsAway(t *testing.T) {
	away := app.UnavailableError{Dependency: "database", Err: errors.New("connection refused")}
	var calls, waits int
	h := waitOutDependencies(OutagePolicy{MaxElapsed: time.Minute, MaxInterval: 10 * time.Millisecond}, func() { waits++ })(failingUntil(3, away, &calls))
	if _, err := h(message.NewMessage("m1", nil)); err != nil {
		t.Fatalf("err = %v, want success once the database is back", err)
	}
	if calls != 4 || waits != 3 {
		t.Errorf("%d calls and %d waits, want 4 and 3", calls, waits)
	}
}

func TestOtherErrorsAndLongOutagesGoOnToRetryAndPoison(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		policy OutagePolicy
		calls  int
	}{
		{"a failure of the message's own", errors.New("boom"), OutagePolicy{MaxElapsed: time.Minute, MaxInterval: time.Millisecond}, 1},
		{"an outage longer than the policy", app.UnavailableError{Dependency: "redis", Err: errors.New("EOF")}, OutagePolicy{MaxElapsed: 50 * time.Millisecond, MaxInterval: time.Millisecond}, 0},
		{"waiting turned off", app.UnavailableError{Dependency: "redis", Err: errors.New("EOF")}, OutagePolicy{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			h := waitOutDependencies(tc.policy, nil)(failingUntil(1000, tc.err, &calls))
			if _, err := h(message.NewMessage("m1", nil)); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.calls > 0 && calls != tc.calls {
				t.Errorf("%d calls, want %d", calls, tc.calls)
			}
			if tc.calls == 0 && calls < 2 {
				t.Errorf("%d calls, want it to have waited and tried again", calls)
			}
		})
	}
}

func TestAWaitingMessageStopsWhenItsContextEnds(t *testing.T) {
	away := app.UnavailableError{Dependency: "database", Err: errors.New("connection refused")}
	var calls int
	h := waitOutDependencies(OutagePolicy{MaxElapsed: time.Hour, MaxInterval: time.Hour}, nil)(failingUntil(1000, away, &calls))
	msg := message.NewMessage("m1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	msg.SetContext(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := h(msg)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, away) {
			t.Errorf("err = %v, want the outage", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting after its context ended")
	}
}
