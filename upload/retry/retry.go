// Package retry wraps any upload.Store so that operations survive a bad
// network, in the manner of restic's backend wrapper: the failures the store
// itself calls temporary (its IsTemporary: 5xx, throttling, dropped
// connections, timeouts) are retried with exponential backoff and jitter.
// Permanent ones (missing or existing objects, refused credentials, a
// cancelled context) are returned at once.
//
//	s = retry.New(s, retry.Options{
//		MaxElapsed: 10 * time.Minute,
//		Notify: func(op string, err error, wait time.Duration) {
//			fmt.Fprintf(os.Stderr, "upload: retrying in %v: %v\n", wait.Round(time.Second), err)
//		},
//	})
//
// A download (Get, GetRange) whose connection breaks half way continues from
// the byte where it stopped, when the store has GetRange.
//
// A Put is repeated from its upload.Source, which can be read again. A
// repeated Put that finds the object already there with the expected size is
// a success: the failed attempt was stored after all.
//
// A connection refused before the store ever answered means a wrong endpoint,
// not a restarting server: it fails at once.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dumptool/dump/internal/tracing"
	"github.com/dumptool/dump/upload"
)

// Options tune the retries. Zero values pick the defaults in brackets.
type Options struct {
	// MaxElapsed bounds one operation, all its attempts and waits included
	// [15m]. A deadline for a whole upload belongs on its context.
	MaxElapsed time.Duration
	// InitialInterval is the first wait [1s]; waits grow 2x up to
	// MaxInterval [30s], each randomised by ±50%.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// Notify, if set, is told about each failure before the wait that
	// follows it; op names the operation and object ("put u/info.json").
	Notify func(op string, err error, wait time.Duration)
}

// New wraps s. The result also implements upload.RangeReader and
// upload.Presigner when s does.
func New(s upload.Store, opts Options) upload.Store {
	if opts.MaxElapsed <= 0 {
		opts.MaxElapsed = 15 * time.Minute
	}
	if opts.InitialInterval <= 0 {
		opts.InitialInterval = time.Second
	}
	if opts.MaxInterval <= 0 {
		opts.MaxInterval = 30 * time.Second
	}
	rr, isRange := s.(upload.RangeReader)
	r := &store{inner: s, opts: opts, rr: rr}
	ps, isPresign := s.(upload.Presigner)
	switch {
	case isRange && isPresign:
		return struct {
			*store
			rangeReader
			presigner
		}{r, rangeReader{r, rr}, presigner{r, ps}}
	case isRange:
		return struct {
			*store
			rangeReader
		}{r, rangeReader{r, rr}}
	case isPresign:
		return struct {
			*store
			presigner
		}{r, presigner{r, ps}}
	}
	return r
}

type store struct {
	inner upload.Store
	rr    upload.RangeReader // nil if inner has no GetRange
	opts  Options
	// reached is set once the store has answered at all; until then a refused
	// connection means a wrong endpoint, not a restarting server.
	reached atomic.Bool
}

func (s *store) String() string { return s.inner.String() }

// Unwrap returns the store that is retried.
func (s *store) Unwrap() upload.Store { return s.inner }

// do runs f until it succeeds, fails permanently or time runs out. The
// operation is a span of the run's trace, with a child span per retry.
func (s *store) do(ctx context.Context, op string, f func() error) (err error) {
	tr := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracing.Name)
	ctx, span := tr.Start(ctx, op)
	defer func() { tracing.End(span, err) }()
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(s.opts.InitialInterval),
		backoff.WithMaxInterval(s.opts.MaxInterval),
		backoff.WithMaxElapsedTime(s.opts.MaxElapsed),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
	)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		var retrySpan trace.Span
		if attempt > 1 {
			_, retrySpan = tracing.StartRetry(ctx, attempt)
		}
		err := f()
		if retrySpan != nil {
			tracing.End(retrySpan, err)
		}
		span.SetAttributes(attribute.Int("attempts", attempt))
		if answered(err) {
			s.reached.Store(true)
		}
		if err == nil || ctx.Err() != nil || !s.temporary(err) {
			return err
		}
		if !s.reached.Load() && isDialError(err) {
			return err
		}
		wait := b.NextBackOff()
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			wait = backoff.Stop
		}
		if wait == backoff.Stop {
			return fmt.Errorf("gave up after %d attempts in %v: %w", attempt, time.Since(start).Round(time.Second), err)
		}
		if s.opts.Notify != nil {
			s.opts.Notify(op, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (s *store) IsTemporary(err error) bool { return s.inner.IsTemporary(err) }

// temporary is what do retries: never a missing or taken object or a
// cancelled context, whatever the store says.
func (s *store) temporary(err error) bool {
	switch {
	case errors.Is(err, upload.ErrNotExist),
		errors.Is(err, upload.ErrExists),
		errors.Is(err, context.Canceled):
		return false
	}
	return s.inner.IsTemporary(err)
}

func (s *store) Put(ctx context.Context, name string, src upload.Source) error {
	first := true
	return s.do(ctx, "put "+name, func() error {
		err := s.inner.Put(ctx, name, src)
		if !first && errors.Is(err, upload.ErrExists) {
			// An earlier attempt may have been stored although its
			// answer was lost; its size tells.
			if fi, serr := s.inner.Stat(ctx, name); serr == nil && fi.Size == src.Size() {
				return nil
			}
		}
		first = false
		return err
	})
}

func (s *store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := s.do(ctx, "get "+name, func() (err error) {
		rc, err = s.inner.Get(ctx, name)
		return err
	})
	return s.resuming(ctx, name, rc, 0, -1), err
}

// resuming makes a download from a store with GetRange continue after its
// connection breaks; see resumingReader.
func (s *store) resuming(ctx context.Context, name string, rc io.ReadCloser, off, end int64) io.ReadCloser {
	if rc == nil || s.rr == nil {
		return rc
	}
	return &resumingReader{ctx: ctx, s: s, rr: s.rr, name: name, rc: rc, off: off, end: end}
}

func (s *store) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	var fi upload.ObjectInfo
	err := s.do(ctx, "stat "+name, func() (err error) {
		fi, err = s.inner.Stat(ctx, name)
		return err
	})
	return fi, err
}

func (s *store) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	var objs []upload.ObjectInfo
	op := "list"
	if prefix != "" {
		op += " " + prefix
	}
	err := s.do(ctx, op, func() (err error) {
		objs, err = s.inner.List(ctx, prefix)
		return err
	})
	return objs, err
}

type rangeReader struct {
	s     *store
	inner upload.RangeReader
}

func (r rangeReader) GetRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	rc, err := r.open(ctx, name, offset, length)
	return r.s.resuming(ctx, name, rc, offset, offset+length), err
}

// open opens a range, retrying.
func (r rangeReader) open(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := r.s.do(ctx, fmt.Sprintf("get %s (bytes %d+%d)", name, offset, length), func() (err error) {
		rc, err = r.inner.GetRange(ctx, name, offset, length)
		return err
	})
	return rc, err
}

type presigner struct {
	s     *store
	inner upload.Presigner
}

func (p presigner) PresignPut(ctx context.Context, name string, expires time.Duration) (upload.PresignedPut, error) {
	var put upload.PresignedPut
	err := p.s.do(ctx, "presign "+name, func() (err error) {
		put, err = p.inner.PresignPut(ctx, name, expires)
		return err
	})
	return put, err
}

// answered reports whether an operation's outcome came from the store.
func answered(err error) bool {
	return err == nil || errors.Is(err, upload.ErrNotExist) || errors.Is(err, upload.ErrExists) || errors.Is(err, upload.ErrPermission)
}

// isDialError reports a connection that could not be made at all: refused,
// unroutable or a name that does not resolve.
func isDialError(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
