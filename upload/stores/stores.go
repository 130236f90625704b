// Package stores opens an upload.Store from a destination URL:
// file:///dir, s3://bucket/prefix or gs://bucket/prefix.
package stores

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/file"
	"github.com/dumptool/dump/upload/gs"
	"github.com/dumptool/dump/upload/s3"
)

// Open returns the store a destination URL names. A bare path is taken as a
// local directory.
func Open(ctx context.Context, raw string) (upload.Store, error) {
	if raw == "" {
		return nil, fmt.Errorf("no destination: pass --to (or --from) with file:///dir, s3://bucket/prefix or gs://bucket/prefix")
	}
	if !strings.Contains(raw, "://") {
		return file.New(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("destination %q is not a URL: %w", raw, err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			// file://./demo/bucket: a relative path written as a URL.
			p = filepath.Join(u.Host, u.Path)
		}
		return file.New(p)
	case "s3":
		return s3.Open(ctx, u)
	case "gs":
		return gs.Open(ctx, u)
	default:
		return nil, fmt.Errorf("destination %q: unknown scheme %q (use file://, s3:// or gs://)", raw, u.Scheme)
	}
}
