package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// SetUpTracing installs W3C trace context propagation (traceparent,
// tracestate) and, when the standard OpenTelemetry variables ask for it,
// the SDK exporting traces: OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER) set and
// OTEL_SDK_DISABLED not true. The exporter (OTLP over http/protobuf or
// grpc, OTEL_EXPORTER_OTLP_PROTOCOL), the sampler (OTEL_TRACES_SAMPLER),
// the batch processor (OTEL_BSP_*) and the resource (OTEL_SERVICE_NAME,
// default "allocation"; OTEL_RESOURCE_ATTRIBUTES) are read by the SDK
// itself. Without them the tracer provider stays a no-op: nothing is
// exported and nothing logged, and a caller's trace context still passes
// through to every message. shutdown flushes the spans still buffered.
func SetUpTracing(ctx context.Context, getenv func(string) string, logger *slog.Logger) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !tracingRequested(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("exporting traces failed", "error", err)
	}))
	exporter, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("allocation")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	logger.Info("exporting traces", "exporter", fmt.Sprintf("%T", exporter))
	return provider.Shutdown, nil
}

// tracingRequested tells whether the environment asks for traces.
func tracingRequested(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exporter {
	case "none":
		return false
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return true
	}
}
