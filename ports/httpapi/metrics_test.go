package httpapi_test

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
)

// metricValue reads one sample from the Prometheus text exposition.
func metricValue(t *testing.T, a *api, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetricsExposeTheNamedSeriesAndMoveWithTraffic(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		created := `allocation_http_requests_total{method="POST",route="/add_batch",status="201"}`
		before := metricValue(t, a, created)
		a.addBatch(uniq("b"), uniq("sku"), 5, "")
		if after := metricValue(t, a, created); after != before+1 {
			t.Fatalf("%s went from %v to %v", created, before, after)
		}
		// An asynchronous allocation of an unknown sku is parked at once.
		if r := a.do("POST", "/allocate", `{"orderid":"o","sku":"`+uniq("nosuch")+`","qty":1}`, "Prefer", "respond-async"); r.status != 202 {
			t.Fatalf("async allocate = %d", r.status)
		}
		parked := `allocation_messages_poisoned_total{handler="AllocateHandler"}`
		eventually(t, parked+" counts the parked command", func() bool { return metricValue(t, a, parked) >= 1 })

		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		for _, name := range []string{
			"allocation_http_request_duration_seconds_bucket",
			"allocation_handler_retries_total",
			"allocation_concurrency_conflicts_total",
			"allocation_handler_execution_time_seconds",
			"allocation_publish_time_seconds",
		} {
			if !regexp.MustCompile(`(?m)^` + name).MatchString(body) {
				t.Errorf("metrics lack %s", name)
			}
		}
	})
}
