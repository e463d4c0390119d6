package app

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// handlerWorkers runs message handlers on long-lived goroutines.
//
// Watermill's router starts a goroutine per message. Its stack starts
// small, and the handler chain (poison queue, retry, recoverer, metrics,
// logging, the CQRS handler, JSON decoding) is deep enough that the runtime
// grows it by copying two or three times for every message: 10-12 % of the
// in-memory service's CPU (pprof, BENCHMARKS.md). A worker's stack grows
// once and then serves many messages. The router's goroutine only hands the
// message over and waits, so acks, nacks and the router's shutdown work as
// before.
//
// At most max workers run; when all are busy the handler runs on the
// caller's goroutine, so a handler that waits for other messages can never
// starve the pool. A worker idle for idleTimeout exits.
type handlerWorkers struct {
	jobs        chan *handlerJob // unbuffered: a send succeeds only if a worker waits
	running     chan struct{}    // one token per running worker, capacity max
	idleTimeout time.Duration
}

type handlerJob struct {
	handler  message.HandlerFunc
	msg      *message.Message
	out      []*message.Message
	err      error
	panicked any
	done     chan struct{}
}

// HandlerWorkersMiddleware is a middleware running every handler it wraps
// on a pool of its own (see handlerWorkers), for routers the message bus
// does not build, such as the outbox forwarder's.
func HandlerWorkersMiddleware() message.HandlerMiddleware {
	return newHandlerWorkers(handlerWorkersMax, handlerWorkersIdleTimeout).Middleware
}

func newHandlerWorkers(max int, idleTimeout time.Duration) *handlerWorkers {
	return &handlerWorkers{
		jobs:        make(chan *handlerJob),
		running:     make(chan struct{}, max),
		idleTimeout: idleTimeout,
	}
}

// Middleware runs the rest of the chain on a worker.
func (w *handlerWorkers) Middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		job := &handlerJob{handler: h, msg: msg, done: make(chan struct{})}
		select {
		case w.jobs <- job:
		default:
			select {
			case w.running <- struct{}{}:
				go w.work(job)
			default:
				return h(msg)
			}
		}
		<-job.done
		if job.panicked != nil {
			// Re-raised on the router's goroutine, which recovers it
			// and nacks the message as for any handler.
			panic(job.panicked)
		}
		return job.out, job.err
	}
}

func (w *handlerWorkers) work(job *handlerJob) {
	defer func() { <-w.running }()
	idle := time.NewTimer(w.idleTimeout)
	defer idle.Stop()
	for {
		job.run()
		idle.Reset(w.idleTimeout)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}

func (j *handlerJob) run() {
	defer close(j.done)
	defer func() { j.panicked = recover() }()
	j.out, j.err = j.handler(j.msg)
}
