package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"allocation/cmd/allocation/service"
	"allocation/config"
)

func TestPoisonCommandsListAndReplayThroughTheAdminAPI(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cfg, err := config.Load("test", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken = "cli-test-token"
	svc, err := service.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)

	// An asynchronous allocation of an unknown sku is parked at once.
	for _, order := range []string{"o1", "o2", "o3"} {
		req, _ := http.NewRequest("POST", srv.URL+"/allocate", strings.NewReader(`{"orderid":"`+order+`","sku":"NOPE","qty":1}`))
		req.Header.Set("Prefer", "respond-async")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("async allocate: %v %v", resp, err)
		}
		resp.Body.Close()
	}

	cliAs := func(token string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		getenv := func(k string) string {
			if k == "ADMIN_TOKEN" {
				return token
			}
			return ""
		}
		code := run(append([]string{"poison"}, args...), getenv, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	cli := func(args ...string) (int, string, string) { return cliAs(cfg.AdminToken, args...) }
	if code, _, errOut := cliAs("", "list", "--service-url", srv.URL); code != 1 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "ADMIN_TOKEN") {
		t.Fatalf("list without ADMIN_TOKEN: exit %d %s", code, errOut)
	}
	if code, _, errOut := cliAs("wrong", "list", "--service-url", srv.URL); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("list with a wrong ADMIN_TOKEN: exit %d %s", code, errOut)
	}
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		// Pages of one: the list pages through all three.
		code, out, errOut := cli("list", "--service-url", srv.URL, "--page-size", "1")
		if code != 0 {
			t.Fatalf("list exit %d: %s", code, errOut)
		}
		if strings.Contains(out, "AllocateHandler") && strings.Contains(out, "Invalid sku NOPE") && strings.Contains(out, "3 parked message(s)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list never showed the parked command:\n%s", out)
		}
		<-poll.C
	}
	if code, out, errOut := cli("replay", "--service-url", srv.URL, "--all"); code != 0 || !strings.Contains(out, "3 message(s) replayed") {
		t.Fatalf("replay exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := cli("replay", "--service-url", srv.URL); code != 2 || !strings.Contains(errOut, "--id") {
		t.Fatalf("replay without ids: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("list", "--service-url", "http://127.0.0.1:1"); code != 1 || !strings.Contains(errOut, "is the service running") {
		t.Fatalf("list against nothing: exit %d %s", code, errOut)
	}
}

func TestDefaultServiceURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"10.0.0.5:8080":  "http://10.0.0.5:8080",
		"":               "http://127.0.0.1:8080",
		"localhost:8081": "http://localhost:8081",
	} {
		if got := defaultServiceURL(addr); got != want {
			t.Errorf("defaultServiceURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
