package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/gin-gonic/gin"

	"allocation/cmd/allocation/service"
	"allocation/config"
	"allocation/tests/testenv"
)

// stores lists the configurations the HTTP suite runs against.
func stores(t *testing.T) []config.Config {
	t.Helper()
	base := inMemoryConfig(t)
	return append([]config.Config{base}, extraStores(t, base)...)
}

// inMemoryConfig is the default configuration (in-memory store and broker)
// with the admin API on.
func inMemoryConfig(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load("test", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken = testAdminToken
	return cfg
}

// testAdminToken enables the admin API in these tests; api.do sends it on
// /admin/* unless the test gives its own Authorization header.
const testAdminToken = "test-admin-token"

type api struct {
	t       *testing.T
	handler http.Handler
}

func forEachStore(t *testing.T, test func(t *testing.T, a *api)) {
	withConfig(t, func(*config.Config) {}, test)
}

// withConfig runs test on every store and broker, with the configuration
// changed by tweak.
func withConfig(t *testing.T, tweak func(*config.Config), test func(t *testing.T, a *api)) {
	for _, cfg := range stores(t) {
		tweak(&cfg)
		t.Run(cfg.Store+"-"+cfg.Broker, func(t *testing.T) {
			t.Parallel()
			test(t, &api{t: t, handler: startService(t, cfg)})
		})
	}
}

// startService starts the whole service on cfg until the test ends and
// returns its HTTP handler.
func startService(t testing.TB, cfg config.Config) http.Handler {
	t.Helper()
	gin.SetMode(gin.TestMode)
	svc, err := service.New(cfg, slog.New(slog.NewTextHandler(testLogOutput(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(errors.Join(err, svc.Stop()))
	}
	t.Cleanup(func() {
		if err := svc.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return svc.Handler
}

type response struct {
	status  int
	body    map[string]any
	list    []map[string]any
	headers http.Header
}

func (a *api) do(method, path, body string, headers ...string) response {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/admin/") {
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	r := response{status: rec.Code, headers: rec.Header()}
	raw := rec.Body.Bytes()
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &r.list); err != nil {
			a.t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	} else if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			a.t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return r
}

func (a *api) addBatch(ref, sku string, qty int, eta string) {
	a.t.Helper()
	etaJSON := "null"
	if eta != "" {
		etaJSON = `"` + eta + `"`
	}
	body := `{"ref":"` + ref + `","sku":"` + sku + `","qty":` + itoa(qty) + `,"eta":` + etaJSON + `}`
	if r := a.do("POST", "/add_batch", body); r.status != http.StatusCreated {
		a.t.Fatalf("add_batch %s = %d %v", ref, r.status, r.body)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func uniq(s string) string { return s + "-" + watermill.NewShortUUID() }

func TestHappyPathReturns201AndAllocatedBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		sku, other := uniq("sku"), uniq("other")
		early, later, otherBatch := uniq("b1"), uniq("b2"), uniq("b3")
		a.addBatch(later, sku, 100, "2011-01-02")
		a.addBatch(early, sku, 100, "2011-01-01")
		a.addBatch(otherBatch, other, 100, "")
		r := a.do("POST", "/allocate", `{"orderid":"`+uniq("o")+`","sku":"`+sku+`","qty":3}`)
		if r.status != http.StatusCreated || r.body["batchref"] != early {
			t.Fatalf("allocate = %d %v, want 201 batchref %s", r.status, r.body, early)
		}
	})
}

func TestUnknownSkuIs400WithMessage(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		sku := uniq("unknown")
		r := a.do("POST", "/allocate", `{"orderid":"o1","sku":"`+sku+`","qty":20}`)
		if r.status != http.StatusBadRequest || r.body["message"] != "Invalid sku "+sku {
			t.Fatalf("got %d %v", r.status, r.body)
		}
	})
}

func TestOutOfStockIs409(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		sku := uniq("small")
		a.addBatch(uniq("b"), sku, 5, "")
		r := a.do("POST", "/allocate", `{"orderid":"o1","sku":"`+sku+`","qty":6}`)
		if r.status != http.StatusConflict || !strings.Contains(r.body["message"].(string), "Out of stock") {
			t.Fatalf("got %d %v", r.status, r.body)
		}
	})
}

func TestDuplicateBatchIs409(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		ref := uniq("b")
		a.addBatch(ref, uniq("sku"), 5, "")
		r := a.do("POST", "/add_batch", `{"ref":"`+ref+`","sku":"`+uniq("sku")+`","qty":5}`)
		if r.status != http.StatusConflict || !strings.Contains(r.body["message"].(string), ref) {
			t.Fatalf("got %d %v", r.status, r.body)
		}
	})
}

func TestBadInputIs400NamingTheField(t *testing.T) {
	cases := []struct {
		name, path, body, field string
	}{
		{"broken JSON", "/allocate", `{"orderid":`, "body"},
		{"empty body", "/allocate", ``, "body"},
		{"not an object", "/allocate", `[1,2]`, "body"},
		{"two objects", "/allocate", `{"orderid":"o","sku":"s","qty":1}{}`, "body"},
		{"missing orderid", "/allocate", `{"sku":"s","qty":1}`, "orderid"},
		{"missing sku", "/allocate", `{"orderid":"o","qty":1}`, "sku"},
		{"missing qty", "/allocate", `{"orderid":"o","sku":"s"}`, "qty"},
		{"qty as string", "/allocate", `{"orderid":"o","sku":"s","qty":"3"}`, "qty"},
		{"qty as float", "/allocate", `{"orderid":"o","sku":"s","qty":1.5}`, "qty"},
		{"qty zero", "/allocate", `{"orderid":"o","sku":"s","qty":0}`, "qty"},
		{"qty negative", "/allocate", `{"orderid":"o","sku":"s","qty":-1}`, "qty"},
		{"empty orderid", "/allocate", `{"orderid":"","sku":"s","qty":1}`, "orderid"},
		{"sku as number", "/allocate", `{"orderid":"o","sku":5,"qty":1}`, "sku"},
		{"async qty zero", "/allocate", `{"orderid":"o","sku":"s","qty":0}`, "qty"},
		{"batch missing ref", "/add_batch", `{"sku":"s","qty":1}`, "ref"},
		{"batch qty zero", "/add_batch", `{"ref":"r","sku":"s","qty":0}`, "qty"},
		{"batch malformed eta", "/add_batch", `{"ref":"r","sku":"s","qty":1,"eta":"tomorrow"}`, "eta"},
		{"batch eta as number", "/add_batch", `{"ref":"r","sku":"s","qty":1,"eta":20110101}`, "eta"},
		{"batch empty sku", "/add_batch", `{"ref":"r","sku":"","qty":1}`, "sku"},
		{"batch broken JSON", "/add_batch", `{"ref":}`, "body"},
		// What the stores cannot hold, or the read model cannot index.
		{"NUL in orderid", "/allocate", `{"orderid":"o\u0000","sku":"s","qty":1}`, "orderid"},
		{"NUL in sku", "/add_batch", `{"ref":"r","sku":"s\u0000","qty":1}`, "sku"},
		{"NUL in ref", "/add_batch", `{"ref":"\u0000","sku":"s","qty":1}`, "ref"},
		{"qty above INTEGER", "/allocate", `{"orderid":"o","sku":"s","qty":2147483648}`, "qty"},
		{"qty above int64", "/allocate", `{"orderid":"o","sku":"s","qty":92233720368547758070}`, "qty"},
		{"batch qty above the limit", "/add_batch", `{"ref":"r","sku":"s","qty":1000000001}`, "qty"},
		{"eta in year 0", "/add_batch", `{"ref":"r","sku":"s","qty":1,"eta":"0000-01-01"}`, "eta"},
		{"orderid of 2650 characters", "/allocate", `{"orderid":"` + strings.Repeat("o", 2650) + `","sku":"s","qty":1}`, "orderid"},
		{"async orderid of 2650 characters", "/allocate", `{"orderid":"` + strings.Repeat("o", 2650) + `","sku":"s","qty":1}`, "orderid"},
		{"sku of spaces", "/allocate", `{"orderid":"o","sku":"   ","qty":1}`, "sku"},
		{"ref with a right-to-left override", "/add_batch", `{"ref":"r\u202e1","sku":"s","qty":1}`, "ref"},
		{"sku with CR LF", "/add_batch", `{"ref":"r","sku":"X\r\nReply-To: evil@example.com","qty":1}`, "sku"},
		{"ref of 100 KB", "/add_batch", `{"ref":"` + strings.Repeat("r", 100<<10) + `","sku":"s","qty":1}`, "ref"},
	}
	forEachStore(t, func(t *testing.T, a *api) {
		for _, c := range cases {
			headers := []string{}
			if strings.HasPrefix(c.name, "async") {
				headers = []string{"Prefer", "respond-async"}
			}
			r := a.do("POST", c.path, c.body, headers...)
			msg, _ := r.body["message"].(string)
			if r.status != http.StatusBadRequest || !strings.HasPrefix(msg, c.field+":") {
				t.Errorf("%s: got %d %q, want 400 naming %s", c.name, r.status, msg, c.field)
			}
		}
	})
}

func TestGetAllocations(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		sku, ref, order := uniq("sku"), uniq("b"), uniq("o")
		a.addBatch(ref, sku, 10, "")
		if r := a.do("POST", "/allocate", `{"orderid":"`+order+`","sku":"`+sku+`","qty":2}`); r.status != http.StatusCreated {
			t.Fatalf("allocate = %d %v", r.status, r.body)
		}
		eventuallyGet(t, a, "/allocations/"+order, func(r response) bool {
			return r.status == http.StatusOK && len(r.list) == 1 && r.list[0]["sku"] == sku && r.list[0]["batchref"] == ref
		})
		if r := a.do("GET", "/allocations/"+uniq("nobody"), ""); r.status != http.StatusNotFound || r.body["message"] == nil {
			t.Fatalf("unknown order = %d %v, want 404 with message", r.status, r.body)
		}
		for _, path := range []string{"/allocations/%00", "/allocations/%ff%fe", "/allocations/%20", "/allocations/" + strings.Repeat("o", 2650)} {
			r := a.do("GET", path, "")
			msg, _ := r.body["message"].(string)
			if r.status != http.StatusBadRequest || !strings.HasPrefix(msg, "orderid:") {
				t.Errorf("GET %.40s = %d %q, want 400 naming orderid", path, r.status, msg)
			}
		}
	})
}

func TestAsyncAllocateIs202ThenVisible(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		sku, ref, order := uniq("sku"), uniq("b"), uniq("o")
		a.addBatch(ref, sku, 10, "")
		r := a.do("POST", "/allocate", `{"orderid":"`+order+`","sku":"`+sku+`","qty":2}`, "Prefer", "respond-async")
		if r.status != http.StatusAccepted || r.headers.Get("Location") != "/allocations/"+order {
			t.Fatalf("async allocate = %d %v location %q", r.status, r.body, r.headers.Get("Location"))
		}
		eventuallyGet(t, a, r.headers.Get("Location"), func(r response) bool {
			return r.status == http.StatusOK && len(r.list) == 1 && r.list[0]["batchref"] == ref
		})
	})
}

func TestCorrelationIDIsEchoedOrGenerated(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		r := a.do("GET", "/healthz", "", "X-Correlation-ID", "abc-123")
		if got := r.headers.Get("X-Correlation-ID"); got != "abc-123" {
			t.Errorf("echoed %q", got)
		}
		r = a.do("GET", "/healthz", "")
		if got := r.headers.Get("X-Correlation-ID"); len(got) < 16 {
			t.Errorf("generated %q", got)
		}
		// A long one is cut to 128 bytes; one with control characters replaced.
		r = a.do("GET", "/healthz", "", "X-Correlation-ID", strings.Repeat("c", 5000))
		if got := r.headers.Get("X-Correlation-ID"); got != strings.Repeat("c", 128) {
			t.Errorf("a 5000-byte id echoed as %d bytes", len(got))
		}
		r = a.do("GET", "/healthz", "", "X-Correlation-ID", "bad\x01id")
		if got := r.headers.Get("X-Correlation-ID"); got == "bad\x01id" || len(got) < 16 {
			t.Errorf("an id with a control character echoed as %q", got)
		}
	})
}

func TestUnknownRouteAndMethodAreJSON(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		if r := a.do("GET", "/nope", ""); r.status != http.StatusNotFound || r.body["message"] == nil {
			t.Errorf("unknown route = %d %v", r.status, r.body)
		}
		if r := a.do("GET", "/allocate", ""); r.status != http.StatusMethodNotAllowed || r.body["message"] == nil {
			t.Errorf("wrong method = %d %v", r.status, r.body)
		}
	})
}

// eventuallyGet polls path until ok holds for its response.
func eventuallyGet(t *testing.T, a *api, path string, ok func(response) bool) {
	t.Helper()
	var last response
	defer func() {
		if t.Failed() {
			t.Logf("last GET %s: %d %v %v", path, last.status, last.body, last.list)
		}
	}()
	testenv.Eventually(t, 10*time.Second, "GET "+path, func() bool {
		last = a.do("GET", path, "")
		return ok(last)
	})
}

func testLogOutput() io.Writer {
	if os.Getenv("TEST_SERVICE_LOGS") == "1" {
		return os.Stderr
	}
	return io.Discard
}
