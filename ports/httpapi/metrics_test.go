package httpapi_test

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"allocation/tests/testenv"
)

// metricValue reads one sample of the API's /metrics.
func metricValue(t *testing.T, a *api, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return testenv.MetricValue(t, rec.Body.Bytes(), series)
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
		testenv.Eventually(t, 10*time.Second, parked+" counts the parked command", func() bool { return metricValue(t, a, parked) >= 1 })

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

// Series whose labels are known at start-up exist, at zero, before the
// first event: an alert on parked messages has something to read.
func TestMetricsExistFromTheStart(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		for _, series := range []string{
			`allocation_messages_poisoned_total{handler="AllocateHandler"} 0`,
			`allocation_messages_poisoned_total{handler="NotifyOutOfStock"} 0`,
			`allocation_messages_poisoned_total{handler="ChangeBatchQuantityFromBroker"} 0`,
			`allocation_http_request_duration_seconds_count{method="POST",route="/allocate"} 0`,
			`allocation_http_request_duration_seconds_count{method="GET",route="/allocations/:orderid"} 0`,
		} {
			if !strings.Contains(body, series+"\n") {
				t.Errorf("metrics lack %s", series)
			}
		}
	})
}

// Made-up methods and paths share one label value each.
func TestUnknownMethodsAndRoutesShareOneLabel(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		for i := range 20 {
			a.do("FOO"+strconv.Itoa(i), "/healthz", "")
			a.do("GET", "/scan/"+strconv.Itoa(i), "")
		}
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		if strings.Contains(body, `method="FOO`) || strings.Contains(body, "/scan/") {
			t.Fatalf("made-up methods or paths became labels")
		}
		if v := metricValue(t, a, `allocation_http_requests_total{method="other",route="unmatched",status="405"}`); v < 20 {
			t.Errorf("made-up methods counted %v times under method=\"other\", want 20", v)
		}
		if v := metricValue(t, a, `allocation_http_requests_total{method="GET",route="unmatched",status="404"}`); v < 20 {
			t.Errorf("unknown paths counted %v times under route=\"unmatched\", want 20", v)
		}
	})
}
