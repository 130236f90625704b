// Package tracing records the spans of one run of dump and, when asked,
// exports them over OTLP, as Teleport does with its exporter_url.
//
// A run has one root span. Stages start their spans as children of the span
// in their context, through the provider that span carries:
//
//	ctx, run, err := tracing.Start(ctx, "dump gather", tracing.Options{ExporterURL: "grpc://localhost:4317"})
//	...
//	_, sp := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracing.Name).Start(ctx, "seal")
//	sp.End()
//	...
//	run.End(ctx, err)
//
// Every ended span is also kept in memory, so that the gather can write
// trace.json into the dump whether or not anything is exported. Without an
// exporter nothing leaves the process and spans cost a few microseconds each.
package tracing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of every span dump makes.
const Name = "github.com/dumptool/dump"

// exportTimeout bounds each export and the final flush: a dead collector
// must not hold up a support dump for long.
const exportTimeout = 10 * time.Second

// Options configure [Start].
type Options struct {
	// ExporterURL says where spans go: grpc://host:port, http(s)://host:port[/path]
	// (the path defaults to /v1/traces), or file:///dir (OTLP JSON, one
	// export request per line). Empty means the standard
	// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT variables if set, else nowhere.
	ExporterURL string
	// Version is the tool version recorded as service.version.
	Version string
}

// Run is one traced run: its provider, root span and recorded spans.
type Run struct {
	tp       *sdktrace.TracerProvider
	rec      *recorder
	root     trace.Span
	exported bool
}

type runKey struct{}

// Start begins a run whose root span is called name and returns a context
// carrying it. It fails only on an unusable exporter URL.
func Start(ctx context.Context, name string, opts Options) (context.Context, *Run, error) {
	rec := &recorder{}
	popts := []sdktrace.TracerProviderOption{
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "dump"),
			attribute.String("service.version", opts.Version),
		)),
	}
	exp, err := newExporter(ctx, opts.ExporterURL)
	if err != nil {
		return ctx, nil, err
	}
	if exp != nil {
		popts = append(popts, sdktrace.WithBatcher(exp, sdktrace.WithExportTimeout(exportTimeout)))
	}
	r := &Run{tp: sdktrace.NewTracerProvider(popts...), rec: rec, exported: exp != nil}
	ctx, r.root = r.tp.Tracer(Name).Start(ctx, name)
	return context.WithValue(ctx, runKey{}, r), r, nil
}

// FromContext returns the run ctx belongs to, or nil.
func FromContext(ctx context.Context) *Run {
	r, _ := ctx.Value(runKey{}).(*Run)
	return r
}

// Tracer returns the run's tracer.
func (r *Run) Tracer() trace.Tracer { return r.tp.Tracer(Name) }

// End ends the root span, marking it failed if err is not nil, and flushes
// the exporter. A failed export is logged, never returned: the run's own
// outcome matters more than its trace.
func (r *Run) End(ctx context.Context, err error) {
	if err != nil {
		r.root.SetStatus(codes.Error, err.Error())
	}
	r.root.End()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout)
	defer cancel()
	if err := r.tp.Shutdown(ctx); err != nil && r.exported {
		slog.Warn("trace: could not export the spans of this run", "err", err)
	}
}

// WriteJSON writes the spans ended so far as a JSON array in the span format
// of the OpenTelemetry stdout exporter.
func (r *Run) WriteJSON() ([]byte, error) {
	b, err := json.MarshalIndent(tracetest.SpanStubsFromReadOnlySpans(r.rec.ended()), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode trace: %w", err)
	}
	return append(b, '\n'), nil
}

// recorder keeps every ended span in memory.
type recorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (r *recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	r.spans = append(r.spans, s)
	r.mu.Unlock()
}
func (r *recorder) Shutdown(context.Context) error   { return nil }
func (r *recorder) ForceFlush(context.Context) error { return nil }

func (r *recorder) ended() []sdktrace.ReadOnlySpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdktrace.ReadOnlySpan(nil), r.spans...)
}

// newExporter returns the OTLP exporter raw names, or nil for none.
func newExporter(ctx context.Context, raw string) (sdktrace.SpanExporter, error) {
	if raw == "" {
		return envExporter(ctx)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Host == "" && u.Scheme != "file") {
		return nil, fmt.Errorf("trace exporter %q: want grpc://host:port, http(s)://host:port/path or file:///dir", raw)
	}
	switch u.Scheme {
	case "grpc":
		return otlptracegrpc.New(ctx,
			otlptracegrpc.WithEndpoint(u.Host),
			otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithTimeout(exportTimeout),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	case "http", "https":
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		return otlptracehttp.New(ctx,
			otlptracehttp.WithEndpointURL(u.String()),
			otlptracehttp.WithTimeout(exportTimeout),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("trace exporter %q: a file URL names a local directory: file:///dir", raw)
		}
		return otlptrace.New(ctx, &fileClient{dir: u.Path})
	}
	return nil, fmt.Errorf("trace exporter %q: unknown scheme %q; use grpc, http, https or file", raw, u.Scheme)
}

// envExporter honours the standard OTEL_EXPORTER_OTLP_* variables, which the
// SDK's exporters read themselves; the protocol defaults to http/protobuf
// as the specification says.
func envExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return nil, nil
	}
	proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto {
	case "grpc":
		return otlptracegrpc.New(ctx)
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	}
	return nil, errors.New("OTEL_EXPORTER_OTLP_PROTOCOL: want grpc or http/protobuf, got " + proto)
}

// StartSpan starts a span called name as a child of the span in ctx, through
// the provider that span carries: outside a run nothing is recorded.
func StartSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(Name).Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartRetry starts the span of a repeated attempt (attempt 2 and on) of a
// request or operation: a "retry" child of the span in ctx.
func StartRetry(ctx context.Context, attempt int) (context.Context, trace.Span) {
	return StartSpan(ctx, "retry", attribute.Int("attempt", attempt))
}

// End ends span, marking it failed if err is not nil.
func End(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
