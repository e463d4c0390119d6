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

// handlerWorkers runs every handler of the router on a pool of its own.
func handlerWorkers() message.HandlerMiddleware {
	return runOnWorkers(workerpool.New(handlerWorkersMax, handlerWorkersIdleTimeout, (*handlerRun).run))
}

// handlerRun is one message handed to a worker.
type handlerRun struct {
	handler  message.HandlerFunc
	msg      *message.Message
	out      []*message.Message
	err      error
	panicked any
	done     chan struct{}
}

func (r *handlerRun) run() {
	defer close(r.done)
	defer func() { r.panicked = recover() }()
	r.out, r.err = r.handler(r.msg)
}

// runOnWorkers runs the rest of the chain on a pooled goroutine, because
// Watermill's router starts a fresh one per message. The router's goroutine
// only hands the message over and waits, so acks, nacks and the router's
// shutdown work as before. When every worker is busy the handler runs on
// the caller, so a handler that waits for other messages can never starve
// the pool.
func runOnWorkers(pool *workerpool.Pool[*handlerRun]) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			r := &handlerRun{handler: h, msg: msg, done: make(chan struct{})}
			if !pool.TryGo(r) {
				return h(msg)
			}
			<-r.done
			if r.panicked != nil {
				// Re-raised on the router's goroutine, which recovers it
				// and nacks the message as for any handler.
				panic(r.panicked)
			}
			return r.out, r.err
		}
	}
}
