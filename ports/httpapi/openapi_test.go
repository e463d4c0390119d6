package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"allocation/adapters/memory"
	"allocation/adapters/notify"
	"allocation/app"
	"allocation/config"
	"allocation/domain"
	"allocation/ports/httpapi"
	"allocation/tests/testenv"
)

const conformanceAdminToken = "conformance-admin-token"

// contract holds real exchanges against the OpenAPI document: the request
// must be one the document accepts exactly when the handler accepts it, and
// every answer (status, headers, body) must be one the document describes.
// It records the documented statuses answered, so that the test can tell
// which of them no exchange showed.
type contract struct {
	doc    *openapi3.T
	router routers.Router

	mu       sync.Mutex
	answered map[string]bool // "POST /allocate 201"
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{doc: doc, router: router, answered: map[string]bool{}}
}

// bearerOnly stands for the admin token check on the document's side: the
// request must at least carry a bearer token.
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// exchange is one request and the status the handler must answer.
type exchange struct {
	method, path, body string
	headers            []string // name, value, ...
	status             int
	// invalid: the handler refuses the request (400, 401, 403) and so
	// must the document.
	invalid bool
}

// check sends ex through handler and holds both sides against the document.
func (k *contract) check(t *testing.T, handler http.Handler, ex exchange) *httptest.ResponseRecorder {
	t.Helper()
	newRequest := func() *http.Request {
		req := httptest.NewRequest(ex.method, ex.path, strings.NewReader(ex.body))
		if ex.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(ex.headers); i += 2 {
			req.Header.Set(ex.headers[i], ex.headers[i+1])
		}
		return req
	}
	name := ex.method + " " + ex.path + " " + abbreviate(ex.body)

	req := newRequest()
	route, pathParams, err := k.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: the document has no such operation: %v", name, err)
		return nil
	}
	requestInput := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: pathParams,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: bearerOnly, MultiError: true},
	}
	requestErr := openapi3filter.ValidateRequest(context.Background(), requestInput)
	if requestErr == nil && ex.body != "" && !json.Valid([]byte(ex.body)) {
		// Not JSON at all (two objects one after the other): no
		// application/json body; kin-openapi's decoder reads only the
		// first value.
		requestErr = errors.New("the body is not JSON")
	}
	switch {
	case ex.invalid && requestErr == nil:
		t.Errorf("%s: the handler refuses this request (%d) but the document accepts it", name, ex.status)
	case !ex.invalid && requestErr != nil:
		t.Errorf("%s: the document refuses this request: %v", name, requestErr)
	}

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, newRequest())
	if rec.Code != ex.status {
		t.Errorf("%s: answered %d %s, want %d", name, rec.Code, rec.Body.String(), ex.status)
	}
	answer := bytes.Clone(rec.Body.Bytes())
	responseInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: requestInput,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(answer)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), responseInput); err != nil {
		t.Errorf("%s: answer %d %s does not match the document: %v", name, rec.Code, abbreviate(string(answer)), err)
	}
	k.mu.Lock()
	k.answered[fmt.Sprintf("%s %s %d", ex.method, route.Path, rec.Code)] = true
	k.mu.Unlock()
	return rec
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// documentedStatuses lists "METHOD /path STATUS" for every response of
// every operation in the document.
func (k *contract) documentedStatuses() []string {
	var all []string
	for path, item := range k.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				all = append(all, method+" "+path+" "+status)
			}
		}
	}
	sort.Strings(all)
	return all
}

// ginPath turns a Gin route (/allocations/:orderid) into an OpenAPI path
// template (/allocations/{orderid}).
var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

func ginPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// Every route the service registers is described, and every described
// operation is a route; every answer of every route, success and error,
// matches the document; every documented status is seen.
func TestOpenAPIDocumentDescribesEveryAnswer(t *testing.T) {
	gin.SetMode(gin.TestMode)
	k := loadContract(t)

	t.Run("service", func(t *testing.T) {
		withConfig(t, func(c *config.Config) { c.AdminToken = conformanceAdminToken }, func(t *testing.T, a *api) {
			engine, ok := a.handler.(*gin.Engine)
			if !ok {
				t.Fatalf("the service's handler is a %T, not the Gin engine", a.handler)
			}
			k.checkRoutes(t, engine)
			k.checkService(t, a.handler)
		})
	})
	t.Run("faults", func(t *testing.T) { k.checkFaults(t) })

	missed := 0
	for _, s := range k.documentedStatuses() {
		if !k.answered[s] {
			t.Errorf("documented but never answered in this test: %s", s)
			missed++
		}
	}
	if missed > 0 {
		t.Log("add an exchange that answers it, or take it out of openapi.json if the route can no longer answer it")
	}
}

// checkRoutes compares the engine's routes with the document's operations.
func (k *contract) checkRoutes(t *testing.T, engine *gin.Engine) {
	t.Helper()
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		key := r.Method + " " + ginPath(r.Path)
		registered[key] = true
		item := k.doc.Paths.Value(ginPath(r.Path))
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s is registered but not described in ports/httpapi/openapi.json", key)
		}
	}
	for path, item := range k.doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which the service does not register", method, path)
			}
		}
	}
}

var (
	adminAuth  = []string{"Authorization", "Bearer " + conformanceAdminToken}
	preferLazy = []string{"Prefer", "respond-async"}
)

// checkService runs the successes and the input errors of every route
// against the wired service.
func (k *contract) checkService(t *testing.T, h http.Handler) {
	sku, ref, order := uniq("sku"), uniq("b"), uniq("o")
	ok := func(method, path, body string, status int, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		return k.check(t, h, exchange{method: method, path: path, body: body, status: status, headers: headers})
	}
	refused := func(method, path, body string, status int, headers ...string) {
		t.Helper()
		k.check(t, h, exchange{method: method, path: path, body: body, status: status, headers: headers, invalid: true})
	}

	if rec := ok("GET", "/openapi.json", "", 200); rec != nil && !bytes.Equal(rec.Body.Bytes(), httpapi.OpenAPIDocument) {
		t.Error("GET /openapi.json does not serve the embedded document")
	}
	ok("GET", "/healthz", "", 200, "X-Correlation-ID", "conformance-1")
	ok("GET", "/readyz", "", 200)
	ok("GET", "/metrics", "", 200)

	ok("POST", "/add_batch", `{"ref":"`+ref+`","sku":"`+sku+`","qty":10,"eta":null}`, 201)
	ok("POST", "/add_batch", `{"ref":"`+uniq("b")+`","sku":"`+sku+`","qty":10,"eta":"2031-01-02"}`, 201)
	ok("POST", "/add_batch", `{"ref":"`+uniq("b")+`","sku":"`+sku+`","qty":10}`, 201)
	ok("POST", "/add_batch", `{"ref":"`+ref+`","sku":"`+sku+`","qty":10}`, 409)
	for _, body := range []string{
		``, `{"ref":`, `[1]`, `{"ref":"r","sku":"s","qty":1}{}`,
		`{"sku":"s","qty":1}`, `{"ref":"r","qty":1}`, `{"ref":"r","sku":"s"}`,
		`{"ref":"","sku":"s","qty":1}`, `{"ref":"r","sku":"","qty":1}`,
		`{"ref":"r","sku":"s","qty":0}`, `{"ref":"r","sku":"s","qty":-3}`, `{"ref":"r","sku":"s","qty":1.5}`,
		`{"ref":"r","sku":"s","qty":"1"}`, `{"ref":5,"sku":"s","qty":1}`,
		`{"ref":"r","sku":"s","qty":1,"eta":"tomorrow"}`, `{"ref":"r","sku":"s","qty":1,"eta":20110101}`,
		`{"ref":"r","sku":"s","qty":1,"eta":"2011-02-30"}`,
		// Identifiers, quantities and dates within what the stores hold.
		`{"ref":"r\u0000","sku":"s","qty":1}`, `{"ref":"r","sku":"   ","qty":1}`, `{"ref":"r\u202e","sku":"s","qty":1}`,
		`{"ref":"` + strings.Repeat("r", 256) + `","sku":"s","qty":1}`, `{"ref":"r","sku":"s","qty":1000000001}`,
		`{"ref":"r","sku":"s","qty":1,"eta":"0000-01-01"}`,
	} {
		refused("POST", "/add_batch", body, 400)
	}
	tooLarge := `{"ref":"` + strings.Repeat("x", 1<<20) + `","sku":"s","qty":1}`
	// Over 1 MB: 413 before the field's own limit (255 characters) is read.
	refused("POST", "/add_batch", tooLarge, 413)

	ok("POST", "/allocate", `{"orderid":"`+order+`","sku":"`+sku+`","qty":2}`, 201)
	ok("POST", "/allocate", `{"orderid":"`+order+`","sku":"`+sku+`","qty":2}`, 201) // again: the same batch
	ok("POST", "/allocate", `{"orderid":"`+uniq("o")+`","sku":"`+sku+`","qty":1000}`, 409)
	ok("POST", "/allocate", `{"orderid":"`+uniq("o")+`","sku":"`+uniq("nosuch")+`","qty":1}`, 400)
	ok("POST", "/allocate", `{"orderid":"`+uniq("o")+`","sku":"`+sku+`","qty":1}`, 202, preferLazy...)
	ok("POST", "/allocate", `{"orderid":"`+uniq("o")+`","sku":"`+sku+`","qty":1}`, 202, "Prefer", "wait=5, RESPOND-ASYNC")
	for _, body := range []string{
		``, `{"orderid":`, `"o"`, `{"orderid":"o","sku":"s","qty":1}{}`,
		`{"sku":"s","qty":1}`, `{"orderid":"o","qty":1}`, `{"orderid":"o","sku":"s"}`,
		`{"orderid":"","sku":"s","qty":1}`, `{"orderid":"o","sku":"","qty":1}`,
		`{"orderid":"o","sku":"s","qty":0}`, `{"orderid":"o","sku":"s","qty":-1}`, `{"orderid":"o","sku":"s","qty":1.5}`,
		`{"orderid":"o","sku":5,"qty":1}`, `{"orderid":"o","sku":"s","qty":"3"}`,
	} {
		refused("POST", "/allocate", body, 400)
		refused("POST", "/allocate", body, 400, preferLazy...)
	}
	refused("POST", "/allocate", `{"orderid":"o","sku":"`+strings.Repeat("s", 1<<20)+`","qty":1}`, 413)

	testenv.Eventually(t, 10*time.Second, "the allocation to show", func() bool {
		return recorded(h, "/allocations/"+order) == http.StatusOK
	})
	ok("GET", "/allocations/"+order, "", 200)
	ok("GET", "/allocations/"+uniq("nobody"), "", 404)
	refused("GET", "/allocations/%00", "", 400)
	refused("GET", "/allocations/"+strings.Repeat("o", 256), "", 400)

	ok("GET", "/admin/poison", "", 200, adminAuth...)
	ok("GET", "/admin/poison?limit=5&after=0", "", 200, adminAuth...)
	for _, query := range []string{"limit=0", "limit=1001", "limit=ten"} {
		refused("GET", "/admin/poison?"+query, "", 400, adminAuth...)
	}
	refused("GET", "/admin/poison", "", 401)
	ok("GET", "/admin/poison", "", 401, "Authorization", "Bearer not-the-token") // the document cannot know the token
	ok("POST", "/admin/poison/replay", `{"ids":["`+uniq("nope")+`"]}`, 404, adminAuth...)
	ok("POST", "/admin/poison/replay", `{"all":true}`, 200, adminAuth...)
	for _, body := range []string{``, `{}`, `{"ids":[]}`, `{"all":false}`, `{"ids":["a"],"all":true}`, `{"ids":"a"}`, `{"all":"yes"}`} {
		refused("POST", "/admin/poison/replay", body, 400, adminAuth...)
	}
	refused("POST", "/admin/poison/replay", `{"all":true}`, 401)
	ok("POST", "/admin/poison/replay", `{"ids":["`+strings.Repeat("x", 1<<20)+`"]}`, 413, adminAuth...)
}

func recorded(h http.Handler, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

// checkFaults holds the answers to faults against the document: each
// route with its dependencies away (503) and broken (500), and the admin
// routes closed (403).
func (k *contract) checkFaults(t *testing.T) {
	for _, fault := range []struct {
		name   string
		err    error
		status int
	}{
		{"away", app.UnavailableError{Dependency: "database", Err: errors.New("connection refused")}, 503},
		{"broken", errors.New("a bug"), 500},
	} {
		h := faultyHandler(t, fault.err, conformanceAdminToken)
		check := func(method, path, body string, headers ...string) {
			t.Helper()
			rec := k.check(t, h, exchange{method: method, path: path, body: body, status: fault.status, headers: headers})
			if fault.status == 503 && rec != nil && rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", method, path)
			}
		}
		check("POST", "/add_batch", `{"ref":"b","sku":"s","qty":1}`)
		check("POST", "/allocate", `{"orderid":"o","sku":"s","qty":1}`)
		check("GET", "/allocations/o", "")
		check("GET", "/admin/poison", "", adminAuth...)
		check("POST", "/admin/poison/replay", `{"all":true}`, adminAuth...)
		if fault.status == 503 {
			check("POST", "/allocate", `{"orderid":"o","sku":"s","qty":1}`, preferLazy...)
			k.check(t, h, exchange{method: "GET", path: "/readyz", status: 503})
		}
	}

	h := faultyHandler(t, nil, conformanceAdminToken)
	k.check(t, h, exchange{method: "GET", path: "/admin/poison", status: 200, headers: adminAuth})
	k.check(t, h, exchange{method: "POST", path: "/admin/poison/replay", body: `{"ids":["1-0"]}`, status: 200, headers: adminAuth})

	closed := faultyHandler(t, nil, "")
	k.check(t, closed, exchange{method: "GET", path: "/admin/poison", status: 403, headers: adminAuth})
	k.check(t, closed, exchange{method: "POST", path: "/admin/poison/replay", body: `{"all":true}`, status: 403, headers: adminAuth})
}

// faultyHandler is the HTTP port on dependencies that all fail with err
// (nil: they work; the poison queue then holds one message).
func faultyHandler(t *testing.T, err error, adminToken string) http.Handler {
	t.Helper()
	d := faultyDeps{err: err}
	application, appErr := app.NewApplication(app.Dependencies{
		UnitOfWork:    d,
		View:          d,
		Notifier:      notify.NewLogNotifier(slog.New(slog.DiscardHandler)),
		HandledEvents: memory.NewHandledEvents(10),
		Commands:      d,
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	return httpapi.NewHandler(httpapi.Config{
		App:            application,
		Commands:       d,
		Logger:         slog.New(slog.DiscardHandler),
		Readiness:      []httpapi.ReadinessCheck{{Name: "postgres", Check: func(context.Context) error { return d.err }}},
		Poison:         d,
		AdminToken:     adminToken,
		RequestTimeout: time.Second,
	})
}

// faultyDeps is every dependency of the HTTP port, failing with err.
type faultyDeps struct{ err error }

func (d faultyDeps) Begin(context.Context) (app.Transaction, error) { return nil, d.err }

func (d faultyDeps) Allocated(context.Context, domain.Allocated) error     { return d.err }
func (d faultyDeps) Deallocated(context.Context, domain.Deallocated) error { return d.err }
func (d faultyDeps) AllocationsFor(context.Context, string) ([]app.Allocation, error) {
	return nil, d.err
}

func (d faultyDeps) Send(context.Context, any) error { return d.err }

func (d faultyDeps) List(context.Context, app.PoisonPage) ([]app.ParkedMessage, error) {
	if d.err != nil {
		return nil, d.err
	}
	return []app.ParkedMessage{{
		ID: "1-0", UUID: "6f1c", Topic: "allocation.events.OutOfStock", Handler: "NotifyOutOfStock",
		Reason: "dial tcp: connection refused", CorrelationID: "c1", ParkedAt: time.Now(),
		Payload: `{"sku":"LAMP"}`, Metadata: map[string]string{"correlation_id": "c1"},
	}}, nil
}

func (d faultyDeps) Replay(_ context.Context, ids []string) ([]string, error) {
	if d.err != nil {
		return nil, d.err
	}
	return slices.Clone(ids), nil
}
