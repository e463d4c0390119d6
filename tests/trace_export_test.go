package tests

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"allocation/tests/testenv"
)

// The binary exports its spans over OTLP/HTTP (protobuf) when
// OTEL_EXPORTER_OTLP_ENDPOINT asks for it: a request with a traceparent
// header yields, in that trace, the HTTP server span (child of the
// caller's span), the command span and the consumer spans of the event
// handlers, under the service name OTEL_SERVICE_NAME gives.
func TestTracesAreExportedOverOTLPInTheRequestsTrace(t *testing.T) {
	receiver := startOTLPReceiver(t)
	p := startService(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY":     "50",
		"OTEL_SERVICE_NAME":           "allocation-e2e",
	})

	if r := post(t, p.URL+"/add_batch", `{"ref":"b1","sku":"LAMP","qty":10,"eta":null}`); r.Status != http.StatusCreated {
		t.Fatalf("add_batch = %d %s", r.Status, r.Body)
	}
	const (
		traceID  = "5b8efff798038103d269b633813fc60c"
		parentID = "eee19b7ec3c1b174"
	)
	r := post(t, p.URL+"/allocate", `{"orderid":"o1","sku":"LAMP","qty":3}`,
		"traceparent", "00-"+traceID+"-"+parentID+"-01")
	if r.Status != http.StatusCreated {
		t.Fatalf("allocate = %d %s", r.Status, r.Body)
	}

	var spans []receivedSpan
	var server, command, consumer *receivedSpan
	testenv.Eventually(t, 20*time.Second, "the request's server, command and event handler spans at the receiver", func() bool {
		spans = receiver.trace(traceID)
		server, command, consumer = nil, nil, nil
		for i, s := range spans {
			switch {
			case s.kind == tracepb.Span_SPAN_KIND_SERVER && s.name == "POST /allocate":
				server = &spans[i]
			case s.name == "command Allocate":
				command = &spans[i]
			case s.kind == tracepb.Span_SPAN_KIND_CONSUMER && strings.HasPrefix(s.name, "process allocation.events.Allocated "):
				consumer = &spans[i]
			}
		}
		return server != nil && command != nil && consumer != nil
	})
	if server.parentID != parentID {
		t.Errorf("server span's parent %s, want the caller's %s", server.parentID, parentID)
	}
	ids := map[string]bool{parentID: true}
	for _, s := range spans {
		ids[s.spanID] = true
	}
	for _, s := range spans {
		if !ids[s.parentID] {
			t.Errorf("span %q has parent %s, outside the trace", s.name, s.parentID)
		}
		if s.service != "allocation-e2e" {
			t.Errorf("span %q has service.name %q, want allocation-e2e", s.name, s.service)
		}
	}
	if errs := receiver.problems(); len(errs) > 0 {
		t.Errorf("receiver refused requests: %q", errs)
	}
	if logs := p.Logs.String(); strings.Contains(logs, "exporting traces failed") {
		t.Errorf("the service failed to export:\n%s", p.Logs.Tail(20))
	}
	names := make([]string, 0, len(spans))
	for _, s := range spans {
		names = append(names, s.name)
	}
	sort.Strings(names)
	t.Logf("trace %s: %d spans: %q", traceID, len(spans), names)
}

// receivedSpan is what the test reads of an exported span.
type receivedSpan struct {
	traceID, spanID, parentID string
	name, service             string
	kind                      tracepb.Span_SpanKind
}

// otlpReceiver is an OTLP/HTTP trace receiver: POST /v1/traces with a
// protobuf ExportTraceServiceRequest (gzip or not), answered with an
// empty ExportTraceServiceResponse.
type otlpReceiver struct {
	URL  string
	mu   sync.Mutex
	got  []receivedSpan
	errs []string
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve)) // on 127.0.0.1
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		r.refuse(w, http.StatusNotFound, fmt.Sprintf("%s %s", req.Method, req.URL.Path))
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.refuse(w, http.StatusUnsupportedMediaType, "content type "+ct)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			r.refuse(w, http.StatusBadRequest, err.Error())
			return
		}
		defer gz.Close()
		body = gz
	}
	raw, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		r.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	var export coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &export); err != nil {
		r.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	var spans []receivedSpan
	for _, rs := range export.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				spans = append(spans, receivedSpan{
					traceID:  hex.EncodeToString(s.GetTraceId()),
					spanID:   hex.EncodeToString(s.GetSpanId()),
					parentID: hex.EncodeToString(s.GetParentSpanId()),
					name:     s.GetName(),
					service:  service,
					kind:     s.GetKind(),
				})
			}
		}
	}
	r.mu.Lock()
	r.got = append(r.got, spans...)
	r.mu.Unlock()
	answer, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	if err != nil {
		r.refuse(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(answer)
}

func (r *otlpReceiver) refuse(w http.ResponseWriter, status int, problem string) {
	r.mu.Lock()
	r.errs = append(r.errs, problem)
	r.mu.Unlock()
	http.Error(w, problem, status)
}

// trace is the spans received so far of one trace.
func (r *otlpReceiver) trace(traceID string) []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var spans []receivedSpan
	for _, s := range r.got {
		if s.traceID == traceID {
			spans = append(spans, s)
		}
	}
	return spans
}

func (r *otlpReceiver) problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}
