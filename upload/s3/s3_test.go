package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/s3"
	"github.com/dumptool/dump/upload/storetest"
)

var srv *miniotest.Server

func TestMain(m *testing.M) { os.Exit(miniotest.Main(m, &srv)) }

var buckets atomic.Int64

// newBucket creates an empty bucket and returns its name.
func newBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%d-%d", os.Getpid(), buckets.Add(1))
	srv.MakeBucket(t, name)
	return name
}

// open returns the store for rawURL configured from the environment, as the
// CLI does, with the environment pointing at the test server.
func open(t testing.TB, rawURL string) *s3.Store {
	t.Helper()
	srv.Setenv(t)
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open %s: %v", rawURL, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	miniotest.Need(t, srv)
	storetest.Run(t, func(t *testing.T) upload.Store {
		return open(t, "s3://"+newBucket(t)+"/dumps/prod")
	}, storetest.Options{LargeSize: 64 << 20})
}

func TestBucketRoot(t *testing.T) {
	miniotest.Need(t, srv)
	storetest.Run(t, func(t *testing.T) upload.Store {
		return open(t, "s3://"+newBucket(t))
	}, storetest.Options{LargeSize: 20 << 20})
}

// The prefix is a directory: objects of a sibling prefix are not listed.
func TestPrefixIsolation(t *testing.T) {
	miniotest.Need(t, srv)
	b := newBucket(t)
	ctx := context.Background()
	a, other := open(t, "s3://"+b+"/team"), open(t, "s3://"+b+"/team-b")
	if err := other.Put(ctx, "u/info.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	if objs, err := a.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Fatalf("List of s3://%s/team = %v, %v; want nothing from team-b", b, objs, err)
	}
}

func TestPresignedPut(t *testing.T) {
	miniotest.Need(t, srv)
	ctx := context.Background()
	s := open(t, "s3://"+newBucket(t)+"/tickets")
	p, err := s.PresignPut(ctx, "u1/key.age", time.Hour)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	// The holder has no credentials: a bare HTTP client.
	put := func(body string) int {
		req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := put("sealed key"); code != http.StatusOK {
		t.Fatalf("PUT to presigned URL: status %d, want 200", code)
	}
	if code := put("replacement"); code != http.StatusPreconditionFailed {
		t.Fatalf("second PUT to presigned URL: status %d, want 412", code)
	}
	// Dropping If-None-Match breaks the signature: it cannot be stripped to overwrite.
	req, _ := http.NewRequestWithContext(ctx, p.Method, p.URL, strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Fatalf("PUT without the signed If-None-Match: status %d, want a refusal", resp.StatusCode)
	}
	rc, err := s.Get(ctx, "u1/key.age")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != "sealed key" {
		t.Fatalf("object = %q after refused overwrites", got)
	}

	if _, err := s.PresignPut(ctx, "u1/info.json", 8*24*time.Hour); err == nil {
		t.Fatalf("PresignPut accepted an 8-day expiry (S3 allows 7)")
	}
}

// An expired presigned URL is refused.
func TestPresignedPutExpired(t *testing.T) {
	miniotest.Need(t, srv)
	ctx := context.Background()
	s := open(t, "s3://"+newBucket(t))
	p, err := s.PresignPut(ctx, "u1/info.json", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	req, _ := http.NewRequestWithContext(ctx, p.Method, p.URL, strings.NewReader("{}"))
	for k, v := range p.Header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("expired")) {
		t.Fatalf("PUT to an expired URL: status %d %s, want 403 expired", resp.StatusCode, body)
	}
}

// Misconfiguration fails within seconds with a one-line message naming the
// bucket and what to fix. The 10 s bound only guards against hangs.
func TestMisconfiguration(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	cases := []struct {
		name   string
		env    map[string]string
		bucket string
		want   []string
	}{
		{"bad secret", map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret"}, bucket,
			[]string{bucket, "SignatureDoesNotMatch", "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"}},
		{"unknown key", map[string]string{"AWS_ACCESS_KEY_ID": "nobody"}, bucket,
			[]string{bucket, "InvalidAccessKeyId", "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"}},
		{"closed port", map[string]string{"AWS_ENDPOINT_URL_S3": closed}, bucket,
			[]string{bucket, "connection refused", "AWS_ENDPOINT_URL_S3"}},
		{"no bucket", nil, "no-such-bucket",
			[]string{`bucket "no-such-bucket" does not exist`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.Setenv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			u, _ := url.Parse("s3://" + c.bucket + "/dumps")
			s, err := s3.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			err = s.Put(ctx, "u1/info.json", strings.NewReader("{}"))
			if err == nil {
				t.Fatalf("Put succeeded")
			}
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Put did not fail by itself within 10s: %v", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message has several lines: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
		})
	}
}

// No credentials at all (and no instance role) says which variables to set.
func TestNoCredentials(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	srv.Setenv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	u, _ := url.Parse("s3://" + bucket)
	s, err := s3.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "u1/info.json")
	if err == nil || !strings.Contains(err.Error(), "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") || !strings.Contains(err.Error(), bucket) {
		t.Fatalf("Stat without credentials: %v", err)
	}
}

// A source that ends early never completes as a shorter object.
func TestShortSource(t *testing.T) {
	miniotest.Need(t, srv)
	ctx := context.Background()
	s := open(t, "s3://"+newBucket(t))
	for _, size := range []int64{1000, 3 * s3.PartSize} {
		name := fmt.Sprintf("u/%d", size)
		err := s.Put(ctx, name, shortSource{size})
		if err == nil || !strings.Contains(err.Error(), "source ended") {
			t.Errorf("Put of %d bytes from a %d-byte source: %v, want an error", size, size-1, err)
		}
		if s.IsTemporary(err) {
			t.Errorf("a short source is called temporary: %v", err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, upload.ErrNotExist) {
			t.Errorf("short Put of %d bytes left an object: %v", size, err)
		}
	}
}

// zeros is size zero bytes.
type zeros int64

func (z zeros) Size() int64 { return int64(z) }

func (z zeros) ReadAt(p []byte, off int64) (int, error) {
	n := int(max(0, min(int64(len(p)), int64(z)-off)))
	clear(p[:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// shortSource says it has size bytes but ends one byte early, as a file cut
// while it is uploaded.
type shortSource struct{ size int64 }

func (s shortSource) Size() int64 { return s.size }

func (s shortSource) ReadAt(p []byte, off int64) (int, error) {
	return zeros(s.size-1).ReadAt(p, off)
}

// loseAnswers forwards requests to MinIO but, for the first PutObject and the
// first CompleteMultipartUpload, drops the connection after MinIO has done
// the work, so the client retries a write that already succeeded.
type loseAnswers struct {
	target string
	lost   atomic.Int64
	done   sync.Map // "put"/"complete" -> true once an answer was lost
}

func (p *loseAnswers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := ""
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && !q.Has("partNumber"):
		kind = "put"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		kind = "complete"
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", p.target
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if _, seen := p.done.LoadOrStore(kind, true); kind != "" && !seen && resp.StatusCode == http.StatusOK {
		p.lost.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

func TestLostAnswerIsSuccess(t *testing.T) {
	miniotest.Need(t, srv)
	p := &loseAnswers{target: strings.TrimPrefix(srv.Endpoint, "http://")}
	s := openVia(t, newBucket(t), p)
	ctx := context.Background()
	for _, size := range []int64{100, 2*s3.PartSize + 1} {
		name := fmt.Sprintf("u/%d", size)
		if err := s.Put(ctx, name, zeros(size)); err != nil {
			t.Fatalf("Put of %d bytes whose answer was lost: %v", size, err)
		}
		if fi, err := s.Stat(ctx, name); err != nil || fi.Size != size {
			t.Fatalf("Stat = %+v, %v", fi, err)
		}
	}
	if p.lost.Load() != 2 {
		t.Fatalf("%d answers lost, want 2 (PutObject and CompleteMultipartUpload)", p.lost.Load())
	}
}

// openVia opens the store of bucket as the command does, its requests sent
// through h.
func openVia(t *testing.T, bucket string, h http.Handler) *s3.Store {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	srv.Setenv(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", ts.URL)
	u, _ := url.Parse("s3://" + bucket)
	s, err := s3.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
