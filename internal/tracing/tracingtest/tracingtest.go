// Package tracingtest records the spans a test makes and shows where each
// one hangs in its trace.
package tracingtest

import (
	"context"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Start returns a context carrying a root span called name, of a provider
// that records every span started under it in rec, and the root span.
func Start(name string) (ctx context.Context, rec *tracetest.SpanRecorder, root trace.Span) {
	rec = tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, root = tp.Tracer("test").Start(context.Background(), name)
	return ctx, rec, root
}

// Paths renders spans as "root > parent > child" paths, one per span, in
// the order of spans.
func Paths(spans []sdktrace.ReadOnlySpan) []string {
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	paths := make([]string, len(spans))
	for i, s := range spans {
		paths[i] = s.Name()
		for p, ok := byID[s.Parent().SpanID()]; ok; p, ok = byID[p.Parent().SpanID()] {
			paths[i] = p.Name() + " > " + paths[i]
		}
	}
	return paths
}
