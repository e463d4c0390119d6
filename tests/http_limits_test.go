package tests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"allocation/tests/testenv"
)

// A client that sends its headers, then trickles its body a byte a second,
// is cut off within HTTP_READ_TIMEOUT instead of holding its connection
// (and a goroutine) as long as it likes.
func TestSlowBodyIsCutWithinTheReadTimeout(t *testing.T) {
	p := startService(t, map[string]string{"HTTP_READ_TIMEOUT": "2s"})
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	started := time.Now()
	if _, err := fmt.Fprintf(conn, "POST /add_batch HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", u.Host); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	go func() {
		// Whatever the server answers (408, 400, nothing), it ends by
		// closing the connection.
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(started)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case after := <-closed:
			if after > 4*time.Second {
				t.Fatalf("connection closed after %v, want within the 2 s read timeout", after)
			}
			return
		case <-tick.C:
			if time.Since(started) > 10*time.Second {
				t.Fatalf("a body trickled a byte a second still open after %v", time.Since(started))
			}
			_, _ = conn.Write([]byte("{"))
		}
	}
}

// Headers are bounded (HTTP_MAX_HEADER_BYTES, 16 KB by default), and
// /admin/* is closed while ADMIN_TOKEN is unset.
func TestHeaderLimitAndAdminDisabledWithoutToken(t *testing.T) {
	p := startService(t, map[string]string{"ADMIN_TOKEN": ""})
	req, err := http.NewRequest("GET", p.URL+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("x", 64<<10))
	if r := do(t, req); r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KB of headers = %d, want 431", r.Status)
	}
	r := get(t, p.URL+"/admin/poison")
	if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "ADMIN_TOKEN") {
		t.Errorf("admin without a token configured = %d %s, want 403 naming ADMIN_TOKEN", r.Status, r.Body)
	}
	// With a token configured: 401 without it, and a line that says so
	// without the token.
	p = startService(t, map[string]string{"ADMIN_TOKEN": "e2e-secret-token"})
	req, _ = http.NewRequest("GET", p.URL+"/admin/poison", nil)
	req.Header.Set("Authorization", "Bearer wrong-token")
	if r := do(t, req); r.Status != http.StatusUnauthorized {
		t.Errorf("wrong token = %d %s, want 401", r.Status, r.Body)
	}
	req, _ = http.NewRequest("GET", p.URL+"/admin/poison", nil)
	req.Header.Set("Authorization", "Bearer e2e-secret-token")
	if r := do(t, req); r.Status != http.StatusOK {
		t.Errorf("right token = %d %s, want 200", r.Status, r.Body)
	}
	testenv.Eventually(t, 5*time.Second, "the refusal logged", func() bool { return strings.Contains(p.Logs.String(), "admin request refused") })
	if logs := p.Logs.String(); strings.Contains(logs, "wrong-token") || strings.Contains(logs, "e2e-secret-token") {
		t.Errorf("a log line holds a token")
	}
}
