package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzRequests sends any body to one route of a whole in-memory service,
// with and without Prefer: respond-async. The properties: never a panic,
// never a 5xx; every 400 names a field (its message starts with one of
// fields and a colon).
func fuzzRequests(f *testing.F, path string, fields ...string) {
	handler := startService(f, inMemoryConfig(f))
	// A product for /allocate to find.
	add := httptest.NewRequest("POST", "/add_batch", strings.NewReader(`{"ref":"fuzz-b1","sku":"LAMP","qty":1000000,"eta":null}`))
	handler.ServeHTTP(httptest.NewRecorder(), add)

	f.Fuzz(func(t *testing.T, body []byte, async bool) {
		req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if async {
			req.Header.Set("Prefer", "respond-async")
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q = %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusBadRequest {
			return
		}
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %q: 400 body %q is not JSON", path, body, rec.Body)
		}
		for _, field := range fields {
			if strings.HasPrefix(e.Message, field+":") {
				return
			}
		}
		// The book's InvalidSku names the sku its own way.
		if strings.HasPrefix(e.Message, "Invalid sku ") {
			return
		}
		t.Fatalf("%s %q: 400 %q names no field", path, body, e.Message)
	})
}

func FuzzAddBatchRequest(f *testing.F) {
	fuzzRequests(f, "/add_batch", "body", "ref", "sku", "qty", "eta")
}

func FuzzAllocateRequest(f *testing.F) {
	fuzzRequests(f, "/allocate", "body", "orderid", "sku", "qty")
}
