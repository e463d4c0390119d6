package tests

import (
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"allocation/adapters/postgres"
	"allocation/tests/testenv"
)

// proxiedDatabase is a fresh schema of the test database that the service
// reaches through a proxy the test can stop or freeze, while the test
// itself checks the data through the real address.
type proxiedDatabase struct {
	proxy *tcpProxy
	// url is the schema through the proxy: the service's DATABASE_URL.
	url string
	// direct is the same schema at the database's own address.
	direct string
	db     *sql.DB
}

func newProxiedDatabase(t *testing.T) *proxiedDatabase {
	t.Helper()
	direct := testenv.DatabaseURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startTCPProxy(t, target)
	t.Cleanup(proxy.thaw) // before the stop registered above: frozen pipes end
	u.Host = proxy.addr
	db, err := postgres.Open(t.Context(), direct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &proxiedDatabase{proxy: proxy, url: u.String(), direct: direct, db: db}
}

// purchasedQuantity is a batch's quantity in the database (-1 if none).
func (d *proxiedDatabase) purchasedQuantity(t *testing.T, ref string) int {
	t.Helper()
	qty := -1
	err := d.db.QueryRowContext(t.Context(), `SELECT purchased_quantity FROM batches WHERE ref = $1`, ref).Scan(&qty)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return qty
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

// timedAnswer is an HTTP answer and how long it took; err is set when
// there was none (refused, or the client gave up).
type timedAnswer struct {
	status     int
	body       string
	retryAfter string
	took       time.Duration
	err        error
}

// faultClient gives up long after any bound the service promises, so that
// a request that hangs shows as a slow answer or an error, never as a
// hung test.
// Every request on a connection of its own: a request written on a kept-
// alive connection just as the server closes it as idle (at shutdown) is
// lost before the service sees it.
var faultClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// timedCall sends a request from any goroutine (it never fails the test).
func timedCall(method, url, body string) timedAnswer { return timedCallNotify(method, url, body, nil) }

// timedCallNotify is timedCall calling wrote once the request is sent.
func timedCallNotify(method, url, body string, wrote func()) timedAnswer {
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		return timedAnswer{err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if wrote != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { wrote() },
		}))
	}
	began := time.Now()
	resp, err := faultClient.Do(req)
	if err != nil {
		return timedAnswer{err: err, took: time.Since(began)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return timedAnswer{status: resp.StatusCode, body: string(raw), retryAfter: resp.Header.Get("Retry-After"), took: time.Since(began), err: err}
}

// message is the "message" of a JSON error body ("" when there is none).
func (a timedAnswer) message() string {
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal([]byte(a.body), &body)
	return body.Message
}

// unavailableBecauseOf tells what is wrong with a's 503 answer ("" when
// nothing): it must name what, in a JSON message, and say Retry-After.
func (a timedAnswer) unavailableBecauseOf(what string) string {
	if why := a.notReadyBecauseOf(what); why != "" {
		return why
	}
	if a.retryAfter == "" {
		return "no Retry-After header"
	}
	return ""
}

// notReadyBecauseOf is unavailableBecauseOf for a probe (/readyz), which
// need not say Retry-After.
func (a timedAnswer) notReadyBecauseOf(what string) string {
	switch {
	case a.err != nil:
		return "no answer: " + a.err.Error()
	case a.status != http.StatusServiceUnavailable:
		return "status " + http.StatusText(a.status) + ": " + a.body
	case !strings.Contains(a.message(), what):
		return "the message does not name " + what + ": " + a.body
	}
	return ""
}

// exited tells whether the process has ended.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// adminRequest sends a request to the admin API (do gives it the tests'
// ADMIN_TOKEN) and fails the test unless it is answered 200.
func adminRequest(t *testing.T, method, url, body string) httpResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	r := do(t, req)
	if r.Status != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, url, r.Status, r.Body)
	}
	return r
}

// parkedMessages lists the poison queue (its first page: the tests park a
// few) through the admin API.
func parkedMessages(t *testing.T, serviceURL string) []map[string]any {
	t.Helper()
	var parked []map[string]any
	adminRequest(t, "GET", serviceURL+"/admin/poison", "").json(t, &parked)
	return parked
}

// onEachPostgresBroker runs f as a subtest per broker that goes with the
// PostgreSQL store: Redis Streams, and PostgreSQL itself (SQL).
func onEachPostgresBroker(t *testing.T, f func(t *testing.T, broker string)) {
	for _, broker := range []string{"redis", "sql"} {
		t.Run("postgres/"+broker, func(t *testing.T) { f(t, broker) })
	}
}

// env is the environment of a service with the PostgreSQL store and
// broker that reaches the database through the proxy (and, on Redis, the
// shared Redis in a topic namespace of its own).
func (d *proxiedDatabase) env(t *testing.T, broker string) map[string]string {
	t.Helper()
	env := map[string]string{"STORE": "postgres", "BROKER": broker, "DATABASE_URL": d.url, "LOG_LEVEL": "info"}
	if broker == "redis" {
		env["REDIS_ADDR"] = testenv.RedisAddr(t)
		env["TOPIC_PREFIX"] = testenv.TopicPrefix()
	}
	return env
}
