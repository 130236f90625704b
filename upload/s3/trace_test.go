package s3_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/internal/tracing/tracingtest"
	"github.com/dumptool/dump/upload/s3"
)

// slowDownOnce forwards requests to MinIO but answers the first attempt of
// part 2 with 503 SlowDown, which the SDK retries by itself.
type slowDownOnce struct {
	proxy  http.Handler
	slowed atomic.Bool
}

func (p *slowDownOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("partNumber") != "2" || !p.slowed.CompareAndSwap(false, true) {
		p.proxy.ServeHTTP(w, r)
		return
	}
	io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
}

// Every part of a multipart upload is a span of the caller's, and an
// attempt the SDK repeats is a "retry" span of its part.
func TestPartsAndRetriesAreSpans(t *testing.T) {
	miniotest.Need(t, srv)
	target, _ := url.Parse(srv.Endpoint)
	p := &slowDownOnce{proxy: httputil.NewSingleHostReverseProxy(target)}
	s := openVia(t, newBucket(t), p)
	ctx, rec, root := tracingtest.Start("run")
	if err := s.Put(ctx, "u/big", zeros(2*s3.PartSize+1)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.PutStream(ctx, "u/stream", bytes.NewReader([]byte("sealed bytes"))); err != nil {
		t.Fatalf("PutStream: %v", err)
	}
	root.End()
	if !p.slowed.Load() {
		t.Fatal("part 2 was never sent")
	}

	paths := tracingtest.Paths(rec.Ended())
	for _, want := range []string{"run > part 1", "run > part 2", "run > part 2 > retry", "run > part 3", "run > put stream u/stream > part 1"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no span %q; got:\n%s", want, strings.Join(paths, "\n"))
		}
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "> retry") && path != "run > part 2 > retry" {
			t.Errorf("unexpected retry span %q: only part 2 was refused once", path)
		}
	}
}
