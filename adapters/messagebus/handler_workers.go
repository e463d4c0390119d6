package messagebus

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/internal/workerpool"
)

// Handler workers: enough for the handlers of every consumer group to run
// at once; one idle for a while exits.
const (
	handlerWorkersMax         = 64
	handlerWorkersIdleTimeout = 10 * time.Second
)

// HandlerWorkersMiddleware runs every handler it wraps on a pool of its
// own, for routers the message bus does not build.
func HandlerWorkersMiddleware() message.HandlerMiddleware {
	return runOnWorkers(workerpool.New(handlerWorkersMax, handlerWorkersIdleTimeout))
}

// runOnWorkers runs the rest of the chain on a pooled goroutine, because
// Watermill's router starts a fresh one per message. The router's goroutine
// only hands the message over and waits, so acks, nacks and the router's
// shutdown work as before. When every worker is busy the handler runs on
// the caller, so a handler that waits for other messages can never starve
// the pool.
func runOnWorkers(pool *workerpool.Pool) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			var (
				out      []*message.Message
				err      error
				panicked any
			)
			done := make(chan struct{})
			run := func() {
				defer close(done)
				defer func() { panicked = recover() }()
				out, err = h(msg)
			}
			if !pool.TryGo(run) {
				return h(msg)
			}
			<-done
			if panicked != nil {
				// Re-raised on the router's goroutine, which recovers it
				// and nacks the message as for any handler.
				panic(panicked)
			}
			return out, err
		}
	}
}
