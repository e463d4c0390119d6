// Package metrics exposes the service's Prometheus metrics: HTTP requests,
// Watermill handlers and publishers, retries, parked messages and
// optimistic-concurrency conflicts. Each service has its own registry.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	wmmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "allocation"

// Metrics holds the collectors on one registry.
type Metrics struct {
	registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	poisoned     *prometheus.CounterVec
	retries      prometheus.Counter
	outageWaits  prometheus.Counter
	conflicts    prometheus.Counter
	watermill    wmmetrics.PrometheusMetricsBuilder
}

// New registers every collector on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_poisoned_total", Help: "Messages parked in the poison queue, by handler.",
		}, []string{"handler"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "handler_retries_total", Help: "Message handler attempts retried after a transient error.",
		}),
		outageWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "handler_outage_waits_total", Help: "Message handler attempts that found the database or broker away and waited for it.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "concurrency_conflicts_total", Help: "Optimistic-concurrency conflicts (each one retried).",
		}),
	}
	r.MustRegister(m.httpRequests, m.httpDuration, m.poisoned, m.retries, m.outageWaits, m.conflicts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.watermill = wmmetrics.NewPrometheusMetricsBuilder(r, namespace, "")
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveHTTP records one HTTP request. route is the route pattern, not
// the path, and method one of a fixed set (see httpapi.ObserveRequests), to
// keep label cardinality bounded.
func (m *Metrics) ObserveHTTP(route, method string, status int, elapsed time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// InitRoute creates the series of a route at zero, so that they exist
// before its first request: its latency histogram (whose _count counts its
// requests; the status of each is only known when it is answered).
func (m *Metrics) InitRoute(route, method string) { m.httpDuration.WithLabelValues(route, method) }

// InitHandler creates a message handler's series at zero, so that an
// alert on parked messages has a series to read before the first one.
func (m *Metrics) InitHandler(handler string) { m.poisoned.WithLabelValues(handler) }

func (m *Metrics) Poisoned(handler string) { m.poisoned.WithLabelValues(handler).Inc() }
func (m *Metrics) Retried()                { m.retries.Inc() }
func (m *Metrics) WaitedForOutage()        { m.outageWaits.Inc() }
func (m *Metrics) Conflict()               { m.conflicts.Inc() }

// InstrumentRouter adds Watermill's handler and subscriber metrics.
func (m *Metrics) InstrumentRouter(r *message.Router) { m.watermill.AddPrometheusRouterMetrics(r) }

// DecoratePublisher adds Watermill's publisher metrics to a publisher the
// buses use directly (the router only decorates publishers it owns).
func (m *Metrics) DecoratePublisher(pub message.Publisher) (message.Publisher, error) {
	return m.watermill.DecoratePublisher(pub)
}
