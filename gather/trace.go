package gather

import (
	"context"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dumptool/dump/internal/tracing"
)

// tracer records the gather's spans: a span "gather" with a child per stage
// and, under "collect", one per collector. They join the run in ctx (the
// command's root span, exported with --trace-exporter); a gather called
// without one starts a run of its own, so that trace.json is always written.
type tracer struct {
	run   *tracing.Run
	own   bool // the run was started here, and ends with the gather
	tr    trace.Tracer
	ctx   context.Context // carries the gather span
	span  trace.Span
	stCtx context.Context // carries the current stage's span
}

func newTracer(ctx context.Context, version, uuid string) *tracer {
	t := &tracer{run: tracing.FromContext(ctx)}
	ctx = context.WithoutCancel(ctx)
	if t.run == nil {
		// Without an exporter URL Start cannot fail.
		ctx, t.run, _ = tracing.Start(ctx, "gather", tracing.Options{Version: version})
		t.own = true
	}
	t.tr = t.run.Tracer()
	if t.own {
		t.ctx, t.span = ctx, trace.SpanFromContext(ctx)
	} else {
		t.ctx, t.span = t.tr.Start(ctx, "gather")
	}
	t.span.SetAttributes(attribute.String("dump.uuid", uuid))
	t.stCtx = t.ctx
	return t
}

// stage starts a span for a stage of the run; call the result to end it.
func (t *tracer) stage(name string) func() {
	ctx, sp := t.tr.Start(t.ctx, name)
	t.stCtx = ctx
	return func() {
		sp.End()
		t.stCtx = t.ctx
	}
}

// collector records a finished collector as a span with its real start and
// end, under the current stage.
func (t *tracer) collector(tk *task) {
	r := tk.res
	_, sp := t.tr.Start(t.stCtx, r.Name, trace.WithTimestamp(r.Started))
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

// write ends the gather span and writes every span of the run ended so far
// to dir/trace.json as a JSON array (the span format of the OpenTelemetry
// stdout exporter). The command's root span is still open then, so it is
// not in the file; the gather span's parent names it.
func (t *tracer) write(ctx context.Context, dir string, m *Manifest) error {
	t.span.SetAttributes(
		attribute.Int("collectors", m.Totals.Collectors),
		attribute.Int("failed", m.Totals.Failed),
		attribute.Int("timed_out", m.Totals.TimedOut),
		attribute.Int64("bytes", m.Totals.Bytes),
	)
	if m.Totals.Failed+m.Totals.TimedOut > 0 {
		t.span.SetStatus(codes.Error, "incomplete")
	}
	if t.own {
		defer t.run.End(ctx, nil)
	}
	t.span.End()
	b, err := t.run.WriteJSON()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "trace.json"), b)
}
