package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"allocation/tests/testenv"
)

type httpResult struct {
	Status  int
	Body    []byte
	Headers http.Header
}

func (r httpResult) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

func post(t *testing.T, url, body string, headers ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func get(t *testing.T, url string) httpResult {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) httpResult {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/admin/") && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{Status: resp.StatusCode, Body: body, Headers: resp.Header}
}

// metric reads one sample of a service's /metrics (0 when absent).
func metric(t *testing.T, url, series string) float64 {
	t.Helper()
	return testenv.MetricValue(t, get(t, url+"/metrics").Body, series)
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

// timedAnswer is an HTTP answer and how long it took; err is set when
// there was none (refused, or the client gave up).
type timedAnswer struct {
	status     int // 0: no answer (err)
	body       string
	retryAfter string
	location   string
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
func timedCall(method, url, body string) timedAnswer { return send(faultClient, method, url, body) }

// send sends a request with client from any goroutine, with headers (name,
// value, ...), and records the answer.
func send(client *http.Client, method, url, body string, headers ...string) timedAnswer {
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
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return timedAnswer{err: err, took: time.Since(began)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return timedAnswer{status: resp.StatusCode, body: string(raw), retryAfter: resp.Header.Get("Retry-After"),
		location: resp.Header.Get("Location"), took: time.Since(began), err: err}
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
