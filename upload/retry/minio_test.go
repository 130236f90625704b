package retry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/retry"
	"github.com/dumptool/dump/upload/s3"
)

var srv *miniotest.Server

func TestMain(m *testing.M) { os.Exit(miniotest.Main(m, &srv)) }

// faultyProxy stands between the S3 client and MinIO: every 3rd request gets
// a 503, every 7th has its connection dropped without an answer, every other
// download is cut off half way, and for a while after the 20th request
// everything gets 503s, longer than the SDK's own retries last, so that whole
// operations fail and must be redone.
type faultyProxy struct {
	target                        string
	proxy                         *httputil.ReverseProxy
	n, gets                       atomic.Int64
	failed, dropped, outages, cut atomic.Int64
	mu                            sync.Mutex
	outageUntil                   time.Time
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.n.Add(1)
	p.mu.Lock()
	if n == 20 {
		p.outageUntil = time.Now().Add(4 * time.Second)
	}
	outage := time.Now().Before(p.outageUntil)
	p.mu.Unlock()
	switch {
	case outage:
		p.outages.Add(1)
		http.Error(w, "outage", http.StatusServiceUnavailable)
	case n%3 == 0:
		p.failed.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<Error><Code>ServiceUnavailable</Code><Message>try again</Message></Error>`)
	case n%7 == 0:
		p.dropped.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case r.Method == http.MethodGet && r.URL.Query().Get("x-id") == "GetObject" && p.gets.Add(1)%2 == 1:
		p.cut.Add(1)
		p.cutOff(w, r)
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

// cutOff forwards a download but stops half way through the body.
func (p *faultyProxy) cutOff(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", p.target
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.CopyN(w, resp.Body, resp.ContentLength/2)
	panic(http.ErrAbortHandler) // the server drops the connection
}

func TestUploadThroughFaults(t *testing.T) {
	miniotest.Need(t, srv)
	srv.MakeBucket(t, "faults")
	target, _ := url.Parse(srv.Endpoint)
	fp := &faultyProxy{target: target.Host, proxy: httputil.NewSingleHostReverseProxy(target)}
	ts := httptest.NewServer(fp)
	defer ts.Close()

	srv.Setenv(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", ts.URL)
	u, _ := url.Parse("s3://faults/dumps")
	inner, err := s3.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int64
	s := retry.New(inner, retry.Options{
		MaxElapsed:      2 * time.Minute,
		InitialInterval: 500 * time.Millisecond,
		MaxInterval:     2 * time.Second,
		Notify: func(op string, err error, wait time.Duration) {
			retries.Add(1)
			t.Logf("retrying %s in %v: %v", op, wait.Round(time.Millisecond), err)
		},
	})
	if _, ok := s.(upload.Presigner); !ok {
		t.Errorf("the retrying s3 store lost PresignPut")
	}

	const size = 40 << 20
	src := filepath.Join(t.TempDir(), "payload")
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)

	ctx := context.Background()
	if err := upload.PutDump(ctx, s, "0d000000-0000-4000-8000-00000000000f", upload.Parts{PayloadPath: src, InfoPath: src}, nil); err != nil {
		t.Fatalf("PutDump through the faulty proxy: %v", err)
	}
	rr := s.(upload.RangeReader)
	for _, name := range []string{"0d000000-0000-4000-8000-00000000000f/dump.tar.zst.age", "0d000000-0000-4000-8000-00000000000f/info.json"} {
		rc, err := s.Get(ctx, name)
		if err != nil {
			t.Fatalf("Get %s: %v", name, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != size || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("read back %s: %d bytes, %v; not byte-identical", name, n, err)
		}
		rc, err = rr.GetRange(ctx, name, size-10, 10)
		if err != nil {
			t.Fatalf("GetRange: %v", err)
		}
		tail, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(tail, data[size-10:]) {
			t.Fatalf("GetRange tail = %x, %v", tail, err)
		}
	}
	t.Logf("%d requests: %d answered 503, %d dropped, %d in the outage, %d downloads cut; %d retries or resumes",
		fp.n.Load(), fp.failed.Load(), fp.dropped.Load(), fp.outages.Load(), fp.cut.Load(), retries.Load())
	if fp.failed.Load() == 0 || fp.dropped.Load() == 0 || fp.outages.Load() == 0 || fp.cut.Load() == 0 {
		t.Fatalf("the proxy injected no faults of some kind")
	}
	if retries.Load() == 0 {
		t.Fatalf("the outage never reached the retry wrapper")
	}
}
