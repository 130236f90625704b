package gs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dumptool/dump/internal/tracing"
)

// Spans: an upload has the shape of an S3 one (see upload/s3/trace.go). It
// is a span of the caller's trace; each chunk of a resumable upload is a
// child of it ("chunk N": offset, bytes, attempts, the status that accepted
// it); and each request the client library repeats is a "retry" child of
// its chunk, or of the operation for any other request (opening an upload
// session, sending a small object whole, reads and listings). Every failed
// attempt is also an "attempt failed" event of its chunk or operation, with
// its error.type: the HTTP status, or what became of the connection.
//
// The library makes its own spans through the global OpenTelemetry provider
// only, which dump does not set, so the transport of Open's client makes
// these from the requests themselves: a chunk is a request with a
// Content-Range, and the library numbers the attempts of each request in
// its X-Goog-Api-Client header. The retry policy stays the library's.

// requestsKey marks the context of an operation for spanTransport.
type requestsKey struct{}

// requestSpans follows the requests of one operation.
type requestSpans struct {
	ctx context.Context // carries the operation's span

	mu       sync.Mutex
	chunks   int // chunks started
	chunk    trace.Span
	chunkCtx context.Context
	offset   int64 // of chunk
}

// traceRequests returns the context to run an operation in, whose requests
// spanTransport turns into spans; end ends what an upload left open.
func traceRequests(ctx context.Context) (context.Context, *requestSpans) {
	rs := &requestSpans{ctx: ctx}
	return context.WithValue(ctx, requestsKey{}, rs), rs
}

// end ends the span of a chunk the upload gave up on.
func (rs *requestSpans) end(err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.chunk != nil {
		tracing.End(rs.chunk, err)
		rs.chunk = nil
	}
}

// attempt is one request.
type attempt struct {
	n     int
	chunk bool
	span  trace.Span // the retry span, or the chunk's on its first attempt
}

// start begins the spans of req.
func (rs *requestSpans) start(req *http.Request) attempt {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	a := attempt{n: libraryAttempt(req)}
	off, size, chunk := chunkRange(req.Header.Get("Content-Range"))
	parent := rs.ctx
	if chunk {
		a.chunk = true
		if rs.chunk == nil || off != rs.offset {
			rs.chunks++
			rs.offset = off
			rs.chunkCtx, rs.chunk = tracing.StartSpan(rs.ctx, fmt.Sprintf("chunk %d", rs.chunks),
				attribute.Int("chunk", rs.chunks), attribute.Int64("offset", off), attribute.Int64("bytes", size))
			a.span = rs.chunk
		}
		parent = rs.chunkCtx
	}
	if a.n > 1 {
		_, a.span = tracing.StartRetry(parent, a.n)
	}
	return a
}

// libraryAttempt reads the number the client library gives the attempt of
// req: X-Goog-Api-Client has "gccl-attempt-count/N", 1 for the first.
func libraryAttempt(req *http.Request) int {
	for _, f := range strings.Fields(req.Header.Get("X-Goog-Api-Client")) {
		if v, ok := strings.CutPrefix(f, "gccl-attempt-count/"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return 1
}

// done ends the spans of attempt a, answered by resp or failed with err.
func (rs *requestSpans) done(a attempt, resp *http.Response, err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var code []attribute.KeyValue // none without an answer
	if resp != nil {
		code = append(code, attribute.Int("http.response.status_code", status(resp)))
		if resp.StatusCode >= 400 {
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
	}
	if a.span != nil && a.span != rs.chunk {
		a.span.SetAttributes(code...)
		tracing.End(a.span, err)
	}
	owner := trace.SpanFromContext(rs.ctx)
	if a.chunk {
		owner = rs.chunk
		owner.SetAttributes(attribute.Int("attempts", a.n))
	}
	if err != nil {
		owner.AddEvent("attempt failed", trace.WithAttributes(
			attribute.Int("attempt", a.n), attribute.String("error.type", errorType(resp, err))))
		return
	}
	if a.chunk {
		rs.chunk.SetAttributes(code...)
		rs.chunk.End()
		rs.chunk = nil
	}
}

// status is the status of resp as the upload protocol means it: the
// library asks for 200 with the header below instead of 308 Resume
// Incomplete, the answer to every chunk but the last.
func status(resp *http.Response) int {
	if code, err := strconv.Atoi(resp.Header.Get("X-Http-Status-Code-Override")); err == nil {
		return code
	}
	return resp.StatusCode
}

// chunkRange reads the Content-Range of a chunk: "bytes first-last/total",
// with "*" for a total not known yet, or "bytes */total" for an empty last
// chunk.
func chunkRange(h string) (offset, size int64, ok bool) {
	r, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, 0, false
	}
	r, total, _ := strings.Cut(r, "/")
	if r == "*" {
		offset, err := strconv.ParseInt(total, 10, 64)
		return offset, 0, err == nil
	}
	first, last, ok := strings.Cut(r, "-")
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	return a, b - a + 1, ok && err1 == nil && err2 == nil
}

// errorType classifies a failed attempt as OpenTelemetry's error.type does
// for HTTP clients: the status code of an error answer, or what became of
// the connection.
func errorType(resp *http.Response, err error) string {
	var errno syscall.Errno
	var ne net.Error
	switch {
	case resp != nil:
		return strconv.Itoa(resp.StatusCode)
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return fmt.Sprintf("%T", err)
}

// spanTransport makes the spans of the requests it sends for an operation
// of the store.
type spanTransport struct{ base http.RoundTripper }

func (t spanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rs, _ := req.Context().Value(requestsKey{}).(*requestSpans)
	if rs == nil {
		return t.base.RoundTrip(req)
	}
	a := rs.start(req)
	resp, err := t.base.RoundTrip(req)
	rs.done(a, resp, err)
	return resp, err
}
