package postgres_test

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// freezingProxy forwards TCP connections to a server until freeze, after
// which it forwards nothing in either direction and keeps the connections
// open: the database looks frozen, not gone.
type freezingProxy struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	frozen   bool
	conns    []net.Conn
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{listener: listener, target: target}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *freezingProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.forward(server, client)
		go p.forward(client, server)
	}
}

func (p *freezingProxy) forward(to, from net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := from.Read(buf)
		if n > 0 && !p.isFrozen() {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezingProxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *freezingProxy) close() {
	_ = p.listener.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// url is the test database's URL pointing at the proxy.
func (p *freezingProxy) url(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.listener.Addr().String()
	return u.String()
}

// testServerAddr is the host:port of the test database.
func testServerAddr(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
