package pubsub

import (
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

// redisOutageReminder is how often a Redis that stays unreachable is
// mentioned again in the log.
const redisOutageReminder = 30 * time.Second

// redisOutageLog reports that Redis cannot be reached once when it
// happens, then every redisOutageReminder, and once when it answers again.
// While Redis is away every subscription, the acknowledgements and the
// outbox relay fail several calls a second; one line per call would bury
// everything else in the log.
type redisOutageLog struct {
	logger watermill.LoggerAdapter
	now    func() time.Time

	mu       sync.Mutex
	down     bool
	since    time.Time
	reported time.Time
	failures int
}

func newRedisOutageLog(logger watermill.LoggerAdapter) *redisOutageLog {
	return &redisOutageLog{logger: logger, now: time.Now}
}

// failed records a call to Redis that failed; what names the call.
func (l *redisOutageLog) failed(what string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.failures++
	switch {
	case !l.down:
		l.down, l.since, l.reported, l.failures = true, now, now, 1
		l.logger.Error("Redis unreachable; retrying (the outbox keeps events meanwhile)", err,
			watermill.LogFields{"while": what})
	case now.Sub(l.reported) >= redisOutageReminder:
		l.reported = now
		l.logger.Error("Redis still unreachable; retrying", err, watermill.LogFields{
			"while": what, "for": now.Sub(l.since).Round(time.Second).String(), "failed_calls": l.failures,
		})
	}
}

// succeeded records a call to Redis that worked.
func (l *redisOutageLog) succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down {
		return
	}
	l.down = false
	l.logger.Info("Redis reachable again", watermill.LogFields{
		"after": l.now().Sub(l.since).Round(time.Millisecond).String(), "failed_calls": l.failures,
	})
}

// retryDelay is the pause before the attempt-th retry (from 0) of a call
// that failed: 100 ms doubling up to 2 s, so that a subscription notices
// within about two seconds that Redis is back.
func retryDelay(attempt int) time.Duration {
	const first, most = 100 * time.Millisecond, 2 * time.Second
	d := first
	for range min(attempt, 5) {
		d *= 2
	}
	return min(d, most)
}

// note logs a change of state that is not a failure (a group recreated).
func (l *redisOutageLog) note(msg string, fields watermill.LogFields) {
	l.logger.Info(msg, fields)
}
