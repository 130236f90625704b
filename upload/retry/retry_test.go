package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/file"
	"github.com/dumptool/dump/upload/retry"
)

// httpErr is an error answer from a server.
type httpErr int

func (e httpErr) Error() string { return fmt.Sprintf("server said %d", int(e)) }

var (
	reset   = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	refused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	timeout = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
)

// lostAnswer makes flaky store the object and then fail, as when a connection
// drops after the server committed the upload.
type lostAnswer struct{ error }

// flaky is a store that fails each operation with queued errors before
// passing it on to a real file store. A failing Put reads half its input
// first, as an upload cut off half way would.
type flaky struct {
	upload.Store
	mu    sync.Mutex
	errs  map[string][]error
	calls map[string]int

	temporary func(error) bool
}

func newFlaky(t *testing.T) *flaky {
	fs, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &flaky{Store: fs, errs: map[string][]error{}, calls: map[string]int{}}
}

func (f *flaky) fail(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[op] = append(f.errs[op], errs...)
}

func (f *flaky) next(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	q := f.errs[op]
	if len(q) == 0 {
		return nil
	}
	f.errs[op] = q[1:]
	return q[0]
}

func (f *flaky) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *flaky) Put(ctx context.Context, name string, src upload.Source) error {
	err := f.next("put")
	var lost lostAnswer
	switch {
	case errors.As(err, &lost):
		if perr := f.Store.Put(ctx, name, src); perr != nil {
			return perr
		}
		return lost.error
	case err != nil:
		io.CopyN(io.Discard, io.NewSectionReader(src, 0, src.Size()), src.Size()/2)
		return err
	}
	return f.Store.Put(ctx, name, src)
}

// IsTemporary classifies as an HTTP backend does; temporary, if set, decides
// instead.
func (f *flaky) IsTemporary(err error) bool {
	if f.temporary != nil {
		return f.temporary(err)
	}
	var h httpErr
	if errors.As(err, &h) {
		return upload.StatusTemporary(int(h))
	}
	return upload.NetworkTemporary(err)
}

func (f *flaky) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := f.next("get"); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, name)
}

func (f *flaky) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	if err := f.next("stat"); err != nil {
		return upload.ObjectInfo{}, err
	}
	return f.Store.Stat(ctx, name)
}

func (f *flaky) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	if err := f.next("list"); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, prefix)
}

type notice struct {
	op   string
	err  error
	wait time.Duration
}

// wrap returns the retrying store with tiny waits, recording notifications.
func wrap(f upload.Store, notices *[]notice) upload.Store {
	var mu sync.Mutex
	return retry.New(f, retry.Options{
		MaxElapsed:      5 * time.Second,
		InitialInterval: time.Millisecond,
		MaxInterval:     5 * time.Millisecond,
		Notify: func(op string, err error, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if notices != nil {
				*notices = append(*notices, notice{op, err, wait})
			}
		},
	})
}

func readAll(t *testing.T, s upload.Store, name string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTransientErrorsAreRetried(t *testing.T) {
	transient := []error{
		httpErr(503), httpErr(500), httpErr(429), httpErr(408), reset, timeout,
		io.ErrUnexpectedEOF, fmt.Errorf("upload part 3: %w", syscall.EPIPE),
	}
	for _, e := range transient {
		t.Run(e.Error(), func(t *testing.T) {
			ctx := context.Background()
			f := newFlaky(t)
			var notices []notice
			s := wrap(f, &notices)
			data := bytes.Repeat([]byte("dump"), 1000)

			f.fail("put", e, e)
			if err := s.Put(ctx, "u/p", bytes.NewReader(data)); err != nil {
				t.Fatalf("Put after two %v: %v", e, err)
			}
			f.fail("get", e, e)
			if got := readAll(t, s, "u/p"); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes that differ from the %d put", len(got), len(data))
			}
			f.fail("stat", e)
			if fi, err := s.Stat(ctx, "u/p"); err != nil || fi.Size != int64(len(data)) {
				t.Fatalf("Stat after %v: %+v, %v", e, fi, err)
			}
			f.fail("list", e)
			if objs, err := s.List(ctx, "u/"); err != nil || len(objs) != 1 {
				t.Fatalf("List after %v: %v, %v", e, objs, err)
			}
			if len(notices) != 6 {
				t.Fatalf("Notify called %d times, want 6: %v", len(notices), notices)
			}
			if n := notices[0]; n.op != "put u/p" || !errors.Is(n.err, e) || n.wait <= 0 {
				t.Fatalf("first notice = %+v", n)
			}
		})
	}
}

func TestPermanentErrorsAreNot(t *testing.T) {
	permanent := []error{
		httpErr(403), httpErr(404), httpErr(400), httpErr(412),
		fmt.Errorf("stat: %w", upload.ErrNotExist),
		errors.New("some error nobody classified"),
		context.Canceled,
	}
	for _, e := range permanent {
		t.Run(e.Error(), func(t *testing.T) {
			f := newFlaky(t)
			s := wrap(f, nil)
			f.fail("stat", e, e)
			if _, err := s.Stat(context.Background(), "x"); !errors.Is(err, e) {
				t.Fatalf("Stat: %v, want %v", err, e)
			}
			if n := f.count("stat"); n != 1 {
				t.Fatalf("%v was tried %d times, want once", e, n)
			}
		})
	}
}

// Objects that are missing or already there come back as such, at once.
func TestStoreSentinelsPassThrough(t *testing.T) {
	ctx := context.Background()
	f := newFlaky(t)
	s := wrap(f, nil)
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, upload.ErrNotExist) || f.count("get") != 1 {
		t.Fatalf("Get of a missing object: %v after %d calls", err, f.count("get"))
	}
	if err := s.Put(ctx, "a", bytes.NewReader([]byte("one"))); err != nil {
		t.Fatal(err)
	}
	// A different object under a taken name stays refused, even though it has
	// the same size: only a retry may take an existing object as its own.
	if err := s.Put(ctx, "a", bytes.NewReader([]byte("two"))); !errors.Is(err, upload.ErrExists) {
		t.Fatalf("second Put: %v, want ErrExists", err)
	}
	if got := readAll(t, s, "a"); string(got) != "one" {
		t.Fatalf("object replaced: %q", got)
	}
}

// A repeated Put reads its source again from the source's first byte.
func TestPutIsRepeatedFromItsSource(t *testing.T) {
	f := newFlaky(t)
	s := wrap(f, nil)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	src := io.NewSectionReader(bytes.NewReader(data), 10, int64(len(data)-10))
	f.fail("put", reset, httpErr(502))
	if err := s.Put(context.Background(), "u/p", src); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := readAll(t, s, "u/p"); !bytes.Equal(got, data[10:]) {
		t.Fatalf("stored %d bytes that differ from the source", len(got))
	}
	if n := f.count("put"); n != 3 {
		t.Fatalf("Put tried %d times, want 3", n)
	}
}

func TestPutStoredButAnswerLost(t *testing.T) {
	f := newFlaky(t)
	s := wrap(f, nil)
	f.fail("put", lostAnswer{reset})
	if err := s.Put(context.Background(), "u/p", bytes.NewReader([]byte("payload"))); err != nil {
		t.Fatalf("Put whose first answer was lost: %v", err)
	}
	if got := readAll(t, s, "u/p"); string(got) != "payload" {
		t.Fatalf("stored %q", got)
	}
}

func TestGivesUpAfterMaxElapsed(t *testing.T) {
	f := newFlaky(t)
	for range 1000 {
		f.fail("stat", httpErr(503))
	}
	var notices int
	s := retry.New(f, retry.Options{
		MaxElapsed:      300 * time.Millisecond,
		InitialInterval: 10 * time.Millisecond,
		MaxInterval:     50 * time.Millisecond,
		Notify:          func(string, error, time.Duration) { notices++ },
	})
	_, err := s.Stat(context.Background(), "x")
	if !errors.Is(err, httpErr(503)) || !strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("Stat: %v, want gave up ... 503", err)
	}
	if n := f.count("stat"); n < 3 || n != notices+1 {
		t.Fatalf("tried %d times with %d notices", n, notices)
	}
}

func TestContextEndsTheWait(t *testing.T) {
	f := newFlaky(t)
	f.fail("stat", httpErr(503), httpErr(503))
	s := retry.New(f, retry.Options{InitialInterval: time.Hour, MaxInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() { _, err := s.Stat(ctx, "x"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, httpErr(503)) {
			t.Fatalf("Stat: %v, want the 503", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stat kept waiting after its context ended")
	}
}

// A refused connection before the store ever answered is a wrong endpoint:
// fail at once. After it answered, it is a server restarting: retry.
func TestRefusedConnection(t *testing.T) {
	ctx := context.Background()
	f := newFlaky(t)
	s := wrap(f, nil)
	f.fail("stat", refused)
	if _, err := s.Stat(ctx, "x"); !errors.Is(err, syscall.ECONNREFUSED) || f.count("stat") != 1 {
		t.Fatalf("first Stat: %v after %d calls, want one refused", err, f.count("stat"))
	}
	if _, err := s.List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	f.fail("stat", refused, refused)
	if _, err := s.Stat(ctx, "x"); !errors.Is(err, upload.ErrNotExist) {
		t.Fatalf("Stat once reached: %v, want ErrNotExist after retries", err)
	}
}

func TestInterfacesPreserved(t *testing.T) {
	f := newFlaky(t)
	s := wrap(f, nil)
	if _, ok := s.(upload.RangeReader); ok {
		t.Fatalf("wrapper of a store without GetRange claims RangeReader")
	}
	fs, _ := file.New(t.TempDir())
	s = retry.New(fs, retry.Options{})
	if _, ok := s.(upload.RangeReader); !ok {
		t.Fatalf("wrapper of the file store lost RangeReader")
	}
	if _, ok := s.(upload.Presigner); ok {
		t.Fatalf("wrapper of the file store claims Presigner")
	}
	if s.String() != fs.String() {
		t.Fatalf("String() = %q, want %q", s, fs)
	}
}

// The store decides what is temporary; the wrapper never retries a missing
// or taken object or a cancelled context, whatever the store says.
func TestTheStoreDecides(t *testing.T) {
	odd := errors.New("a failure only this store knows to be passing")
	f := newFlaky(t)
	f.temporary = func(err error) bool { return true }
	s := wrap(f, nil)
	f.fail("stat", odd, odd)
	if _, err := s.Stat(context.Background(), "x"); !errors.Is(err, upload.ErrNotExist) || f.count("stat") != 3 {
		t.Fatalf("Stat after two failures the store calls temporary: %v after %d calls", err, f.count("stat"))
	}
	for _, e := range []error{fmt.Errorf("x: %w", upload.ErrExists), fmt.Errorf("x: %w", context.Canceled)} {
		f := newFlaky(t)
		f.temporary = func(err error) bool { return true }
		f.fail("list", e, e)
		if _, err := wrap(f, nil).List(context.Background(), ""); !errors.Is(err, e) || f.count("list") != 1 {
			t.Fatalf("List: %v after %d calls, want %v at once", err, f.count("list"), e)
		}
	}
}

// breakAfter makes flaky's next downloads break off after so many bytes.
type breakAfter int64

// breaker delivers at most n bytes of r, then fails like a cut connection.
type breaker struct {
	io.ReadCloser
	n int64
}

func (b *breaker) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, reset
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.ReadCloser.Read(p)
	b.n -= int64(n)
	return n, err
}

func (f *flaky) body(rc io.ReadCloser) io.ReadCloser {
	var b breakAfter
	if err := f.next("body"); errors.As(err, &b) {
		return &breaker{rc, int64(b)}
	}
	return rc
}

func (b breakAfter) Error() string { return fmt.Sprintf("break after %d bytes", int64(b)) }

// flakyRange is flaky with GetRange; both its downloads can break off.
type flakyRange struct{ *flaky }

func (f flakyRange) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := f.flaky.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return f.body(rc), nil
}

func (f flakyRange) GetRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := f.next("range"); err != nil {
		return nil, err
	}
	rc, err := f.Store.(upload.RangeReader).GetRange(ctx, name, offset, length)
	if err != nil {
		return nil, err
	}
	return f.body(rc), nil
}

func TestDownloadResumesAfterBreak(t *testing.T) {
	ctx := context.Background()
	f := newFlaky(t)
	var notices []notice
	s := wrap(flakyRange{f}, &notices)
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := s.Put(ctx, "u/p", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}

	f.fail("body", breakAfter(10_000), breakAfter(25_000), breakAfter(1))
	f.fail("range", httpErr(503)) // reopening is retried too
	if got := readAll(t, s, "u/p"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d put", len(got), len(data))
	}
	if len(notices) != 4 {
		t.Fatalf("%d notices, want 3 breaks and one 503: %v", len(notices), notices)
	}

	f.fail("body", breakAfter(5_000), breakAfter(5_000))
	rc, err := s.(upload.RangeReader).GetRange(ctx, "u/p", 30_000, 40_000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[30_000:70_000]) {
		t.Fatalf("GetRange read %d bytes (%v), not the range", len(got), err)
	}
}

func TestDownloadGivesUpWhenStalled(t *testing.T) {
	ctx := context.Background()
	f := newFlaky(t)
	s := wrap(flakyRange{f}, nil)
	data := bytes.Repeat([]byte("x"), 1000)
	if err := s.Put(ctx, "u/p", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		f.fail("body", breakAfter(0))
	}
	rc, err := s.Get(ctx, "u/p")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, reset) || !strings.Contains(err.Error(), "in a row") {
		t.Fatalf("read of a download that never moves: %v", err)
	}
}
