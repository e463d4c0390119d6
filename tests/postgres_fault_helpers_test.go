package tests

import (
	"database/sql"
	"net"
	"sync"
	"testing"

	"allocation/tests/testenv"
)

// proxiedDatabase is a fresh schema of the test database that the service
// reaches through a proxy the test can stop or freeze, while the test
// itself checks the data through the real address.
type proxiedDatabase struct {
	proxy *testenv.Proxy
	// url is the schema through the proxy: the service's DATABASE_URL.
	url string
	// direct is the same schema at the database's own address.
	direct string
	db     *sql.DB
}

func newProxiedDatabase(t *testing.T) *proxiedDatabase {
	t.Helper()
	proxy, through, direct := testenv.ProxiedDatabase(t)
	return &proxiedDatabase{proxy: proxy, url: through, direct: direct, db: testenv.Open(t, direct)}
}

// silentListener accepts TCP connections and never says a word on them:
// a PostgreSQL that hangs before it answers anything.
type silentListener struct {
	addr string

	mu       sync.Mutex
	accepted int
}

func startSilentListener(t *testing.T) *silentListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentListener{addr: l.Addr().String()}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.mu.Lock()
			s.accepted++
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *silentListener) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// url is a DATABASE_URL pointing at the listener.
func (s *silentListener) url() string {
	return "postgres://postgres@" + s.addr + "/postgres?sslmode=disable"
}
