package app

import "time"

// goroutinePool runs functions on long-lived goroutines. A new goroutine's
// stack starts small, and a command's burst (store, event bus, JSON) is
// deep enough that the runtime grows it by copying several times: started
// afresh for every burst, that copying was a quarter of the in-memory
// handler's CPU. A pooled goroutine's stack grows once. One idle for
// idleTimeout exits, so an idle service keeps none.
type goroutinePool struct {
	tasks       chan func() // unbuffered: a send succeeds only if a goroutine waits
	idleTimeout time.Duration
}

func newGoroutinePool(idleTimeout time.Duration) *goroutinePool {
	return &goroutinePool{tasks: make(chan func()), idleTimeout: idleTimeout}
}

// run runs task on an idle pooled goroutine, or on a new one.
func (p *goroutinePool) run(task func()) {
	select {
	case p.tasks <- task:
	default:
		go p.serve(task)
	}
}

func (p *goroutinePool) serve(task func()) {
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
