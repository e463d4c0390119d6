// Package idlepoll lets a polling watermill-sql subscriber rest while
// nothing happens: once its polls have found nothing for an idle interval,
// it waits for a signal (this process has just committed messages for it)
// or the idle interval, instead of polling every few milliseconds.
//
// watermill-sql has no way to wake a subscriber between polls. Its polling
// loop calls the BackoffManager's HandleError after every poll, on the
// loop's goroutine, and sleeps for the duration returned; so the wait
// happens inside HandleError, which then returns 0. Stop must be called
// when the subscriber closes, or closing waits for the idle interval.
package idlepoll

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	watermillsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// Signal says "messages were committed". Notify never blocks:
// notifications made while nobody waits merge into one, which is all a
// poller needs, since one poll reads everything committed so far.
type Signal struct {
	ch chan struct{}
}

func NewSignal() *Signal { return &Signal{ch: make(chan struct{}, 1)} }

// Notify says that messages were committed. A nil signal ignores it.
func (s *Signal) Notify() {
	if s == nil {
		return
	}
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// C delivers one value per merged notification; a nil signal's never does.
func (s *Signal) C() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.ch
}

// Backoff is a watermill-sql BackoffManager. While polls find messages,
// and for the idle interval after the last one (or the last signal), it
// is next: a row committed behind an older, still open transaction
// (watermill-sql shows a row only once every older transaction has
// finished) is then read at next's pace soon after that one ends. After
// that it waits inside HandleError for the signal, the idle interval, or
// Stop, and then has the subscriber poll at once. Errors are next's.
type Backoff struct {
	next   watermillsql.BackoffManager
	signal *Signal
	idle   atomic.Int64 // time.Duration; 0: never idle

	mu         sync.Mutex
	lastActive time.Time

	stopOnce sync.Once
	stopped  chan struct{}

	polls     atomic.Int64
	idleWaits atomic.Int64
}

// New returns a Backoff over next; with idleInterval 0 it is next alone
// until SetIdleInterval.
func New(next watermillsql.BackoffManager, idleInterval time.Duration, signal *Signal) *Backoff {
	b := &Backoff{next: next, signal: signal, stopped: make(chan struct{})}
	b.idle.Store(int64(idleInterval))
	return b
}

// SetIdleInterval changes the idle interval (0: never idle); call it
// before the subscriber polls.
func (b *Backoff) SetIdleInterval(d time.Duration) { b.idle.Store(int64(d)) }

func (b *Backoff) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	b.polls.Add(1)
	wait := b.next.HandleError(logger, noMsg, err)
	idle := time.Duration(b.idle.Load())
	if err != nil || idle <= 0 {
		return wait
	}
	now := time.Now()
	b.mu.Lock()
	if !noMsg {
		b.lastActive = now
	}
	active := now.Sub(b.lastActive) < idle
	b.mu.Unlock()
	if active {
		return wait
	}
	b.idleWaits.Add(1)
	timer := time.NewTimer(idle)
	defer timer.Stop()
	select {
	case <-b.signal.C():
		b.mu.Lock()
		b.lastActive = time.Now()
		b.mu.Unlock()
	case <-timer.C:
	case <-b.stopped:
		return wait
	}
	return 0
}

// Stop ends any wait, now and later: the subscriber's loop, which calls
// HandleError, must get back to noticing that it is being closed.
func (b *Backoff) Stop() { b.stopOnce.Do(func() { close(b.stopped) }) }

// IdleWaits is how many idle waits have begun (for tests and metrics).
func (b *Backoff) IdleWaits() int64 { return b.idleWaits.Load() }

// Polls is how many polls have ended (HandleError calls).
func (b *Backoff) Polls() int64 { return b.polls.Load() }
