package gather

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// tracer records the spans of one run in memory for trace.json: a root span
// "gather", a span per stage and one per collector.
type tracer struct {
	tp   *sdktrace.TracerProvider
	exp  *tracetest.InMemoryExporter
	tr   trace.Tracer
	ctx  context.Context // carries the root span
	root trace.Span
}

func newTracer(ctx context.Context, version, uuid string) *tracer {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "dump"),
			attribute.String("service.version", version),
		)),
	)
	t := &tracer{tp: tp, exp: exp, tr: tp.Tracer("github.com/dumptool/dump/gather")}
	t.ctx, t.root = t.tr.Start(context.WithoutCancel(ctx), "gather", trace.WithAttributes(attribute.String("dump.uuid", uuid)))
	return t
}

// stage starts a span for a stage of the run; call the result to end it.
func (t *tracer) stage(name string) func() {
	_, sp := t.tr.Start(t.ctx, name)
	return func() { sp.End() }
}

// collector records a finished collector as a span with its real start and end.
func (t *tracer) collector(tk *task) {
	r := tk.res
	_, sp := t.tr.Start(t.ctx, r.Name, trace.WithTimestamp(r.Started))
	attrs := []attribute.KeyValue{
		attribute.String("name", r.Name),
		attribute.String("category", r.Category),
		attribute.String("kind", string(r.Kind)),
		attribute.String("profile", r.Profile),
		attribute.String("status", string(r.Status)),
		attribute.Int64("bytes", r.Bytes),
		attribute.Bool("timed_out", r.TimedOut),
		attribute.Bool("truncated", r.Truncated),
	}
	if r.ExitCode != nil {
		attrs = append(attrs, attribute.Int("exit_code", *r.ExitCode))
	}
	sp.SetAttributes(attrs...)
	if r.Failed() {
		sp.SetStatus(codes.Error, string(r.FailureKind)+": "+r.Error)
	}
	sp.End(trace.WithTimestamp(r.Started.Add(time.Duration(r.DurationMS) * time.Millisecond)))
}

// write ends the root span and writes every span as a JSON array (the span
// format of the OpenTelemetry stdout exporter) to dir/trace.json.
func (t *tracer) write(ctx context.Context, dir string, m *Manifest) error {
	t.root.SetAttributes(
		attribute.Int("collectors", m.Totals.Collectors),
		attribute.Int("failed", m.Totals.Failed),
		attribute.Int("timed_out", m.Totals.TimedOut),
		attribute.Int64("bytes", m.Totals.Bytes),
	)
	if m.Totals.Failed+m.Totals.TimedOut > 0 {
		t.root.SetStatus(codes.Error, "incomplete")
	}
	t.root.End()
	defer t.tp.Shutdown(ctx)
	b, err := json.MarshalIndent(t.exp.GetSpans(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode trace: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, "trace.json"), append(b, '\n'))
}
