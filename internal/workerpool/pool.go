// Package workerpool runs functions on long-lived goroutines. A new
// goroutine's stack starts small, and the work handed over here (a
// message's handler chain, a product's burst of commands) is deep enough
// that the runtime would grow it by copying several times for each piece
// of work; a pooled goroutine's stack grows once.
package workerpool

import "time"

// Pool holds at most max workers; one idle for idleTimeout exits, so an
// idle service keeps none.
type Pool struct {
	tasks       chan func()   // unbuffered: a send succeeds only if a worker waits
	running     chan struct{} // one token per worker; nil when unbounded
	idleTimeout time.Duration
}

// New returns a pool of at most max workers, 0 meaning no bound.
func New(max int, idleTimeout time.Duration) *Pool {
	p := &Pool{tasks: make(chan func()), idleTimeout: idleTimeout}
	if max > 0 {
		p.running = make(chan struct{}, max)
	}
	return p
}

// Go runs task on an idle worker, a new worker, or, when max workers are
// all busy, a goroutine of its own.
func (p *Pool) Go(task func()) {
	if !p.TryGo(task) {
		go task()
	}
}

// TryGo runs task on an idle worker or a new one, and reports false, not
// running it, when max workers are all busy.
func (p *Pool) TryGo(task func()) bool {
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
func (p *Pool) Workers() int { return len(p.running) }

func (p *Pool) work(task func()) {
	if p.running != nil {
		defer func() { <-p.running }()
	}
	idle := time.NewTimer(p.idleTimeout)
	defer idle.Stop()
	for {
		task()
		idle.Reset(p.idleTimeout)
		select {
		case task = <-p.tasks:
		case <-idle.C:
			return
		}
	}
}
