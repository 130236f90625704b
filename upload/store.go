// Package upload moves sealed dumps to and from object stores.
//
// A Store is a flat namespace of immutable objects addressed by slash-separated
// names ("<uuid>/dump.tar.zst.age"). Backends live in sub-packages, one per kind
// of store (file, s3, gs, ticket); package stores opens one from a URL such as
// file:///srv/dumps, s3://bucket/prefix or gs://bucket/prefix. Every backend
// passes the same conformance suite in package storetest.
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
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Name     string // relative to the store's root, slash-separated
	Size     int64
	Modified time.Time
}

// Store is one place dumps are kept.
type Store interface {
	// Put stores size bytes read from r under name. It never leaves a partial
	// object visible under name, and fails with ErrExists if name is taken.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Get opens an object for reading; ErrNotExist if it is missing.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat describes an object; ErrNotExist if it is missing.
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	// List returns the objects whose names start with prefix, sorted by name.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
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
