package retry_test

import (
	"bytes"
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Each operation is a span of the caller's trace, each retry a child of it.
func TestRetriesAreSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, root := tp.Tracer("test").Start(context.Background(), "run")
	f := newFlaky(t)
	f.fail("put", reset, httpErr(502))
	data := bytes.Repeat([]byte("x"), 1000)
	if err := wrap(f, nil).Put(ctx, "u/p", bytes.NewReader(data)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	root.End()
	var put sdktrace.ReadOnlySpan
	retries := 0
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "put u/p":
			put = s
		case "retry":
			retries++
		}
	}
	if put == nil || put.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("no span \"put u/p\" under the caller's span")
	}
	for _, s := range rec.Ended() {
		if s.Name() == "retry" && s.Parent().SpanID() != put.SpanContext().SpanID() {
			t.Errorf("retry span is not a child of the put")
		}
	}
	if retries != 2 {
		t.Errorf("%d retry spans, want 2 (three attempts)", retries)
	}
}
