package messagebus

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"

	"allocation/app"
)

// OutagePolicy is how long a message handler waits for a dependency that
// is away (app.UnavailableError) before the error goes on to the retry and
// poison middleware: an outage is not the message's fault, so the message
// waits for the database or broker rather than being parked after seconds.
type OutagePolicy struct {
	// MaxElapsed caps the wait; 0 turns waiting off.
	MaxElapsed time.Duration
	// MaxInterval caps the pause between attempts.
	MaxInterval time.Duration
}

// waitOutDependencies is the router middleware of OutagePolicy; onWait is
// called on every attempt that found a dependency away (metrics).
func waitOutDependencies(policy OutagePolicy, onWait func()) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		if policy.MaxElapsed <= 0 {
			return h
		}
		return func(msg *message.Message) ([]*message.Message, error) {
			wait := backoff.NewExponentialBackOff()
			wait.InitialInterval = 100 * time.Millisecond
			wait.MaxInterval = policy.MaxInterval
			started := time.Now()
			for {
				produced, err := h(msg)
				if err == nil || !app.IsUnavailable(err) || time.Since(started) >= policy.MaxElapsed {
					return produced, err
				}
				if onWait != nil {
					onWait()
				}
				timer := time.NewTimer(wait.NextBackOff())
				select {
				case <-timer.C:
				case <-msg.Context().Done():
					timer.Stop()
					return produced, err
				}
			}
		}
	}
}
