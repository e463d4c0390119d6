package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"allocation/app"
	"allocation/ports/httpapi"
	"allocation/tests/testenv"
)

type fakePoison struct{}

func (fakePoison) List(context.Context, app.PoisonPage) ([]app.ParkedMessage, error) {
	return []app.ParkedMessage{{ID: "1"}}, nil
}
func (fakePoison) Replay(context.Context, []string) ([]string, error) { return []string{"1"}, nil }

func adminHandler(token string) (http.Handler, *testenv.LockedBuffer) {
	gin.SetMode(gin.TestMode)
	logs := &testenv.LockedBuffer{}
	return httpapi.NewHandler(httpapi.Config{
		Poison:     fakePoison{},
		AdminToken: token,
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
	}), logs
}

func adminCall(h http.Handler, method, path, authorization string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(`{"all":true}`))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body.Message
}

func TestAdminAPIIsDisabledWithoutAToken(t *testing.T) {
	h, _ := adminHandler("")
	for _, route := range [][2]string{{"GET", "/admin/poison"}, {"POST", "/admin/poison/replay"}, {"GET", "/admin/other"}} {
		status, msg := adminCall(h, route[0], route[1], "Bearer anything")
		if status != http.StatusForbidden || !strings.Contains(msg, "ADMIN_TOKEN") {
			t.Errorf("%s %s = %d %q, want 403 saying how to enable it", route[0], route[1], status, msg)
		}
	}
}

func TestAdminAPINeedsTheBearerToken(t *testing.T) {
	const token = "s3cret-admin-token"
	h, logs := adminHandler(token)
	for name, auth := range map[string]string{
		"missing":      "",
		"wrong":        "Bearer s3cret-admin-tokeX",
		"prefix":       "Bearer s3cret",
		"other scheme": "Basic " + token,
		"bare token":   token,
	} {
		for _, route := range [][2]string{{"GET", "/admin/poison"}, {"POST", "/admin/poison/replay"}, {"GET", "/admin/nothing-here"}} {
			status, msg := adminCall(h, route[0], route[1], auth)
			if status != http.StatusUnauthorized || msg == "" {
				t.Errorf("%s token, %s %s = %d %q, want 401 with a message", name, route[0], route[1], status, msg)
			}
		}
	}
	if !strings.Contains(logs.String(), "admin request refused") {
		t.Errorf("refusals not logged:\n%s", logs)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("a log line holds (part of) a token:\n%s", logs)
	}
	if status, _ := adminCall(h, "GET", "/admin/poison", "Bearer "+token); status != http.StatusOK {
		t.Errorf("right token: list = %d", status)
	}
	if status, _ := adminCall(h, "POST", "/admin/poison/replay", "bearer "+token); status != http.StatusOK {
		t.Errorf("right token (scheme in lower case): replay = %d", status)
	}
	if status, _ := adminCall(h, "GET", "/admin/nothing-here", "Bearer "+token); status != http.StatusNotFound {
		t.Errorf("right token, unknown admin route = %d, want 404", status)
	}
}

func TestPoisonListPagesWithLimitAndAfter(t *testing.T) {
	h, _ := adminHandler("t")
	for _, bad := range []string{"0", "-1", "1001", "ten"} {
		if status, msg := adminCall(h, "GET", "/admin/poison?limit="+bad, "Bearer t"); status != http.StatusBadRequest || !strings.HasPrefix(msg, "limit:") {
			t.Errorf("limit=%s = %d %q, want 400 naming limit", bad, status, msg)
		}
	}
	req := httptest.NewRequest("GET", "/admin/poison?limit=1", nil)
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Link") != `</admin/poison?after=1&limit=1>; rel="next"` {
		t.Errorf("full page = %d, Link %q", rec.Code, rec.Header().Get("Link"))
	}
	req = httptest.NewRequest("GET", "/admin/poison", nil)
	req.Header.Set("Authorization", "Bearer t")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Link") != "" {
		t.Errorf("last page = %d, Link %q", rec.Code, rec.Header().Get("Link"))
	}
}
