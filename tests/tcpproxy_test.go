package tests

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards a local port to a target; stopping it refuses new
// connections and cuts the open ones, as a dependency going away would,
// without touching the shared server behind it.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, addr: "127.0.0.1:0", target: target, conns: map[net.Conn]struct{}{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start listens on the proxy's address: a free port the first time, the
// same port again after a stop (retried briefly: the kernel may still
// hold it).
func (p *tcpProxy) start() {
	p.t.Helper()
	var l net.Listener
	waitUntil(p.t, 10*time.Second, "listening on "+p.addr, func() bool {
		var err error
		l, err = net.Listen("tcp", p.addr)
		return err == nil
	})
	p.mu.Lock()
	p.listener = l
	p.addr = l.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.track(in, out)
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
}

func (p *tcpProxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener != nil {
		p.listener.Close()
		p.listener = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}
