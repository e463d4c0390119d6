package pubsub

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// roundTripCounter is a go-redis hook that records what each round trip to
// Redis carried: one entry per command or per pipeline.
type roundTripCounter struct {
	mu    sync.Mutex
	trips [][]string
}

func (h *roundTripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *roundTripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		return next(ctx, cmds)
	}
}

func (h *roundTripCounter) record(cmds ...redis.Cmder) {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = strings.ToLower(c.Name())
	}
	h.mu.Lock()
	h.trips = append(h.trips, names)
	h.mu.Unlock()
}

// count says how many round trips carried the command, and how many
// commands of that name were sent in all.
func (h *roundTripCounter) count(name string) (trips, commands int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, trip := range h.trips {
		n := 0
		for _, c := range trip {
			if c == name {
				n++
			}
		}
		if n > 0 {
			trips++
			commands += n
		}
	}
	return trips, commands
}

// tripsWithBoth counts the round trips that carried both commands.
func (h *roundTripCounter) tripsWithBoth(a, b string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, trip := range h.trips {
		joined := " " + strings.Join(trip, " ") + " "
		if strings.Contains(joined, " "+a+" ") && strings.Contains(joined, " "+b+" ") {
			n++
		}
	}
	return n
}

// cuttableProxy forwards TCP connections to a target until cut: then it
// closes them and refuses new ones until restored.
type cuttableProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu       sync.Mutex
	down     bool
	conns    []net.Conn
	refusals int
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{t: t, ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *cuttableProxy) addr() string { return p.ln.Addr().String() }

func (p *cuttableProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.refusals++
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go pipe(in, out)
		go pipe(out, in)
	}
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *cuttableProxy) refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusals
}
