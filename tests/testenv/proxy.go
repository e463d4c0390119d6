package testenv

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy forwards a loopback port to a target. Stopping it refuses new
// connections and cuts the open ones, as a dependency going away would,
// without touching the shared server behind it; refusing does the same but
// accepts each new connection to close it at once, counting the attempts;
// freezing it forwards nothing while keeping every connection open, as a
// server that hangs would.
type Proxy struct {
	t      testing.TB
	target string

	mu       sync.Mutex
	addr     string
	listener net.Listener
	conns    map[net.Conn]struct{}
	// refusing closes each new connection at once; refused counts them.
	refusing bool
	refused  int
	// cut is closed by Stop: it releases the pipes of the connections it
	// cuts that wait at a freeze.
	cut chan struct{}
	// thawed is closed while the proxy forwards, open while it is frozen.
	thawed chan struct{}
}

// StartProxy forwards a free loopback port to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	thawed := make(chan struct{})
	close(thawed)
	p := &Proxy{t: t, addr: "127.0.0.1:0", target: target, conns: map[net.Conn]struct{}{}, cut: make(chan struct{}), thawed: thawed}
	p.Start()
	t.Cleanup(func() {
		p.Thaw()
		p.Stop()
	})
	return p
}

// Addr is where the proxy listens (the same across Stop and Start).
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Start forwards again after Refuse, or listens on the proxy's address: a
// free port the first time, the same port again after a Stop (retried
// briefly: the kernel may still hold it).
func (p *Proxy) Start() {
	p.t.Helper()
	p.mu.Lock()
	listening := p.listener != nil
	p.refusing = false
	p.mu.Unlock()
	if listening {
		return
	}
	var l net.Listener
	addr := p.Addr()
	Eventually(p.t, 10*time.Second, "listening on "+addr, func() bool {
		var err error
		l, err = net.Listen("tcp", addr)
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

// track records the connections accepted on l, unless the proxy refuses
// connections or was stopped meanwhile (the accept raced the stop): those
// are closed.
func (p *Proxy) track(l net.Listener, conns ...net.Conn) (cut chan struct{}, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refusing {
		p.refused++
	}
	if p.refusing || p.listener != l {
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
func (p *Proxy) pipe(dst, src net.Conn, cut chan struct{}) {
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

func (p *Proxy) thawedChan() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thawed
}

// Freeze stops forwarding, in both directions, on open and new
// connections alike (new ones are still accepted), until Thaw.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default: // already frozen
	}
}

// Thaw forwards again, starting with what was held.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// Stop closes the listener, so that connections are refused, and cuts the
// open ones, until Start.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener != nil {
		p.listener.Close()
		p.listener = nil
	}
	p.cutConnections()
}

// Refuse cuts the open connections and closes each new one as soon as it
// is accepted, until Start.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = true
	p.cutConnections()
}

// Refused counts the connections closed at once since the proxy started.
func (p *Proxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// cutConnections closes the open connections; p.mu is held.
func (p *Proxy) cutConnections() {
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	close(p.cut)
	p.cut = make(chan struct{})
}

// ProxiedDatabase is a fresh schema (DatabaseURL) reached through a proxy:
// through is its URL via the proxy, for the code under test, and direct
// the same schema at the database's own address, for the test's checks.
func ProxiedDatabase(t testing.TB) (proxy *Proxy, through, direct string) {
	t.Helper()
	direct = DatabaseURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy = StartProxy(t, target)
	u.Host = proxy.Addr()
	return proxy, u.String(), direct
}
