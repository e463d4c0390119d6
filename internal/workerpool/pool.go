// Package workerpool runs work on long-lived goroutines. A new goroutine's
// stack starts small, and the work handed over here (a message's handler
// chain, a product's burst of commands) is deep enough that the runtime
// would grow it by copying several times for each piece of work; a pooled
// goroutine's stack grows once.
package workerpool

import "time"

// Pool hands tasks to run on at most max workers; one idle for
// idleTimeout exits, so an idle service keeps none.
type Pool[T any] struct {
	run         func(T)
	tasks       chan T        // unbuffered: a send succeeds only if a worker waits
	running     chan struct{} // one token per worker; nil when unbounded
	idleTimeout time.Duration
}

// New returns a pool of at most max workers (0: no bound) calling run.
func New[T any](max int, idleTimeout time.Duration, run func(T)) *Pool[T] {
	p := &Pool[T]{run: run, tasks: make(chan T), idleTimeout: idleTimeout}
	if max > 0 {
		p.running = make(chan struct{}, max)
	}
	return p
}

// Go runs task on an idle worker, a new worker, or, when max workers are
// all busy, a goroutine of its own.
func (p *Pool[T]) Go(task T) {
	if !p.TryGo(task) {
		go p.run(task)
	}
}

// TryGo runs task on an idle worker or a new one, and reports false, not
// running it, when max workers are all busy.
func (p *Pool[T]) TryGo(task T) bool {
	select {
	case p.tasks <- task:
		return true
	default:
	}
	if p.running != nil {
		select {
		case p.running <- struct{}{}:
		default:
			return false
		}
	}
	go p.work(task)
	return true
}

// Workers is the number of workers alive (bounded pools only).
func (p *Pool[T]) Workers() int { return len(p.running) }

func (p *Pool[T]) work(task T) {
	if p.running != nil {
		defer func() { <-p.running }()
	}
	idle := time.NewTimer(p.idleTimeout)
	defer idle.Stop()
	for {
		p.run(task)
		idle.Reset(p.idleTimeout)
		select {
		case task = <-p.tasks:
		case <-idle.C:
			return
		}
	}
}
