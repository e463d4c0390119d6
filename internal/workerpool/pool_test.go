package workerpool

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func call(task func()) { task() }

func TestPoolReusesAnIdleWorker(t *testing.T) {
	p := New(4, time.Minute, call)
	ranOn := map[string]int{}
	for range 100 {
		done := make(chan struct{})
		p.Go(func() { ranOn[goroutineID()]++; close(done) })
		<-done
	}
	for _, n := range ranOn {
		if n > 1 {
			return
		}
	}
	t.Fatalf("no worker ran more than one of 100 sequential tasks: %v", ranOn)
}

// goroutineID is the id in the first line of the goroutine's stack trace,
// "goroutine 42 [running]:".
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1]
}

func TestTryGoRefusesWhenEveryWorkerIsBusy(t *testing.T) {
	p := New(1, time.Minute, call)
	release := make(chan struct{})
	if !p.TryGo(func() { <-release }) {
		t.Fatal("the first task was refused")
	}
	if p.TryGo(func() {}) {
		t.Fatal("a second task was taken while the only worker was busy")
	}
	close(release)
}

func TestGoRunsEveryTaskWhenEveryWorkerIsBusy(t *testing.T) {
	p := New(1, time.Minute, call)
	release := make(chan struct{})
	p.Go(func() { <-release })
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("task did not run while the only worker was busy")
	}
	close(release)
}

func TestWorkersExitWhenIdle(t *testing.T) {
	p := New(2, 10*time.Millisecond, call)
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	deadline := time.Now().Add(5 * time.Second)
	for p.Workers() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still running after their idle timeout", p.Workers())
		}
		time.Sleep(time.Millisecond)
	}
}
