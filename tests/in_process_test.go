package tests

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/gin-gonic/gin"

	"allocation/cmd/allocation/service"
	"allocation/config"
)

// startInProcess runs the service in this process, on the in-memory broker
// (which nothing outside the process can reach), with env over the defaults.
func startInProcess(t *testing.T, env map[string]string) runningService {
	gin.SetMode(gin.TestMode)
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "ADMIN_TOKEN" {
			return testAdminToken
		}
		return ""
	}
	cfg, err := config.Load("e2e", nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
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
	return runningService{URL: srv.URL, client: newWatermillClient(t, svc.PubSub.Publisher(), func(group string) (message.Subscriber, error) {
		return svc.PubSub.Subscriber(group)
	})}
}
