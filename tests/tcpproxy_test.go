package tests

import (
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards a local port to a target; stopping it refuses new
// connections and cuts the open ones, as a dependency going away would,
// without touching the shared server behind it. Freezing it forwards
// nothing while keeping every connection open, as a server that hangs
// would.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
	// cut is closed by stop: it releases the pipes of the connections it
	// cuts that wait at a freeze.
	cut chan struct{}
	// thawed is closed while the proxy forwards, open while it is frozen.
	thawed chan struct{}
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	thawed := make(chan struct{})
	close(thawed)
	p := &tcpProxy{t: t, addr: "127.0.0.1:0", target: target, conns: map[net.Conn]struct{}{}, cut: make(chan struct{}), thawed: thawed}
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
			cut, ok := p.track(l, in, out)
			if !ok {
				continue
			}
			go p.pipe(in, out, cut)
			go p.pipe(out, in, cut)
		}
	}()
}

// track records the connections accepted on l, unless the proxy was
// stopped meanwhile (the accept raced the stop): those are closed.
func (p *tcpProxy) track(l net.Listener, conns ...net.Conn) (cut chan struct{}, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener != l {
		for _, c := range conns {
			c.Close()
		}
		return nil, false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return p.cut, true
}

// pipe copies src to dst, holding what it reads while the proxy is frozen.
func (p *tcpProxy) pipe(dst, src net.Conn, cut chan struct{}) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-p.thawedChan():
			case <-cut:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *tcpProxy) thawedChan() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thawed
}

// freeze stops forwarding, in both directions, on open and new
// connections alike (new ones are still accepted), until thaw.
func (p *tcpProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default: // already frozen
	}
}

// thaw forwards again, starting with what was held.
func (p *tcpProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
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
	close(p.cut)
	p.cut = make(chan struct{})
}
