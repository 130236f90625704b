// Package upload moves sealed dumps to and from object stores.
//
// A Store is a flat namespace of immutable objects addressed by slash-separated
// names ("<uuid>/dump.tar.zst.age"). Backends live in sub-packages, one per kind
// of store (file, s3, gs, ticket); package stores opens one from a URL such as
// file:///srv/dumps, s3://bucket/prefix or gs://bucket/prefix, already wrapped
// by package retry. Every backend passes the conformance suite in package
// storetest.
//
// A dump is three objects under its uuid (see PutDump): the payload, the sealed
// session key (absent for nometa dumps) and info.json, which is written last so
// that a dump whose upload stopped half way is never listed as complete.
package upload

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

var (
	// ErrNotExist is returned (wrapped) when an object is missing.
	ErrNotExist = errors.New("object does not exist")
	// ErrExists is returned (wrapped) by Put when the object is already there:
	// dumps are immutable, nothing is ever overwritten.
	ErrExists = errors.New("object already exists")
	// ErrPermission is returned (wrapped) when the credentials are valid but
	// may not do this: write-only credentials that cannot list or look, an
	// upload ticket asked to read.
	ErrPermission = errors.New("not permitted with these credentials")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Name     string // relative to the store's root, slash-separated
	Size     int64
	Modified time.Time
}

// Source is what Put reads an object from: its bytes at any offset, and how
// many there are. A store may read it from several goroutines at once (the
// parts of a multipart upload) and read the same bytes again (a repeated
// attempt), so an upload can always be repeated from its source.
// *bytes.Reader, *strings.Reader and *io.SectionReader are Sources; FileSource
// makes one of an open file.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Store is one place dumps are kept.
//
// Retry contract (as restic's Backend): each call makes one attempt (a
// backend's client may resend a single request a few times within seconds)
// and the store itself classifies what went wrong. IsTemporary reports a
// failure that may go away when the same call is made again: a dropped or
// refused connection, a timeout, a 5xx or throttling answer. Anything else is
// permanent: a missing object (ErrNotExist), a taken name (ErrExists), refused
// credentials (ErrPermission, or a message saying what to set), a missing
// bucket, a cancelled context. Package retry repeats the temporary failures
// with backoff; it may call any method again after any failure, so every
// method must be safe to repeat. Put is: it never leaves a partial object
// visible under name and never replaces an existing one.
type Store interface {
	// Put stores the bytes of src under name. It never leaves a partial
	// object visible under name, and fails with ErrExists if name is taken.
	Put(ctx context.Context, name string, src Source) error
	// Get opens an object for reading; ErrNotExist if it is missing.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat describes an object; ErrNotExist if it is missing.
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	// List returns the objects whose names start with prefix, sorted by name.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// IsTemporary reports whether err, from one of this store's methods or
	// from reading a body Get returned, may go away by trying again.
	IsTemporary(err error) bool
	// String names the store for messages ("s3://bucket/prefix").
	String() string
}

// RangeReader is implemented by stores that can read part of an object, which
// lets downloads fetch several ranges at once.
type RangeReader interface {
	GetRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error)
}

// PresignedPut lets a holder without credentials put one object: an HTTP
// request with this method, URL and headers (which are part of the signature).
type PresignedPut struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
}

// Presigner is implemented by stores that can hand out upload URLs (upload
// tickets). The signed request must refuse to replace an existing object.
type Presigner interface {
	PresignPut(ctx context.Context, name string, expires time.Duration) (PresignedPut, error)
}

// Streamer is implemented by stores that can store an object whose size is
// known only when its source ends: a payload uploaded while it is sealed. It
// is one attempt, never retried (a stream cannot be read again). A failed
// PutStream leaves nothing visible under name; a store may keep what it
// stored (S3 keeps the multipart upload's parts) for a later Put of the same
// bytes to continue from. When r fails, the store keeps nothing.
type Streamer interface {
	PutStream(ctx context.Context, name string, r io.Reader) error
}

// StreamerOf returns the Streamer of s, looking under wrappers (package
// retry) that have an Unwrap method; nil if the store cannot stream.
func StreamerOf(s Store) Streamer {
	for {
		if st, ok := s.(Streamer); ok {
			return st
		}
		w, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return nil
		}
		s = w.Unwrap()
	}
}

// NewReader reads src from its first byte to its last, as a stream that
// stops with ctx's error once ctx ends.
func NewReader(ctx context.Context, src Source) io.Reader {
	return ContextReader(ctx, io.NewSectionReader(src, 0, src.Size()))
}

// ContextReader returns a reader that stops with ctx's error once ctx ends,
// so a long copy from a source that never blocks still honours cancellation.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Error is a failed store operation as the user reads it: one line saying
// what failed and what to do. It answers errors.Is and errors.As for Errs (the
// library's own error, and ErrNotExist, ErrExists or ErrPermission where one
// applies) without repeating them in the message.
type Error struct {
	Msg  string
	Errs []error
}

func (e *Error) Error() string   { return e.Msg }
func (e *Error) Unwrap() []error { return e.Errs }
