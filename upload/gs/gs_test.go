package gs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/gs"
	"github.com/dumptool/dump/upload/gs/gstest"
	"github.com/dumptool/dump/upload/storetest"
)

func open(t *testing.T, raw string) *gs.Store {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gs.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open(%s): %v", raw, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The path users take: Open with STORAGE_EMULATOR_HOST. Every store gets its
// own prefix in one bucket, so the suite also checks that a prefix confines
// puts and listings. 48 MiB is three resumable chunks.
func TestConformanceOpen(t *testing.T) {
	gstest.Start(t, "dumps")
	n := 0
	storetest.Run(t, func(t *testing.T) upload.Store {
		n++
		return open(t, fmt.Sprintf("gs://dumps/support/run%d", n))
	}, storetest.Options{LargeSize: 48 << 20})
}

// The same suite with a client handed to New, on a fresh bucket each time, no
// prefix and smaller chunks (six for the large object).
func TestConformanceNew(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	client := srv.Client()
	n := 0
	storetest.Run(t, func(t *testing.T) upload.Store {
		n++
		name := fmt.Sprintf("bucket%d", n)
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
		s := gs.New(client, name, "")
		s.ChunkSize = 8 << 20
		return s
	}, storetest.Options{LargeSize: 48 << 20})
}

// A resumable (multi-chunk) upload carries the precondition too: the second
// Put is refused and the first object is untouched.
func TestOverwriteRefusedResumable(t *testing.T) {
	gstest.Start(t, "dumps")
	s := open(t, "gs://dumps/p")
	s.ChunkSize = 256 << 10
	ctx := context.Background()
	first := bytes.Repeat([]byte("first "), 200_000) // ~1.2 MB: five chunks
	second := bytes.Repeat([]byte("second"), 200_000)
	if err := s.Put(ctx, "u/dump.tar.zst.age", bytes.NewReader(first)); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	err := s.Put(ctx, "u/dump.tar.zst.age", bytes.NewReader(second))
	if !errors.Is(err, upload.ErrExists) {
		t.Fatalf("second Put: err = %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), "gs://dumps/p/u/dump.tar.zst.age") {
		t.Errorf("error does not name the object: %v", err)
	}
	rc, err := s.Get(ctx, "u/dump.tar.zst.age")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, first) {
		t.Fatalf("object changed after a refused Put (%d bytes)", len(got))
	}
}

// "support/run1" must not see "support/run10".
func TestPrefixBoundary(t *testing.T) {
	gstest.Start(t, "dumps")
	ctx := context.Background()
	a, b := open(t, "gs://dumps/x/run1"), open(t, "gs://dumps/x/run10/")
	if err := b.Put(ctx, "u/info.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	if objs, err := a.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Fatalf("List of gs://dumps/x/run1 = %v, %v; want nothing", objs, err)
	}
	objs, err := b.List(ctx, "")
	if err != nil || len(objs) != 1 || objs[0].Name != "u/info.json" {
		t.Fatalf("List of gs://dumps/x/run10 = %v, %v; want u/info.json", objs, err)
	}
	if got := b.String(); got != "gs://dumps/x/run10" {
		t.Errorf("String() = %q", got)
	}
}

// A proxy that flips one byte of the upload stands for a corrupting network.
// Whether the object fits one request or takes several chunks, the Put fails
// and no object is left.
func TestCorruptionInTransitLeavesNothing(t *testing.T) {
	var corrupted atomic.Int32
	throughProxy(t, gstest.Start(t, "dumps"), func(r *http.Request) {
		// The first upload request carrying data: the only one for a
		// small object, the first chunk of a resumable one.
		if q := r.URL.Query(); strings.HasPrefix(r.URL.Path, "/upload/") && (q.Has("upload_id") || q.Get("uploadType") == "multipart") {
			if corrupted.Add(1) == 1 {
				r.Body = &flipper{r: r.Body, at: 5000}
			}
		}
	})

	for _, tc := range []struct {
		name  string
		chunk int
		size  int
	}{{"single request", 0, 100_000}, {"resumable", 256 << 10, 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			corrupted.Store(0)
			s := open(t, "gs://dumps/"+strings.ReplaceAll(tc.name, " ", "-"))
			s.ChunkSize = tc.chunk
			data := bytes.Repeat([]byte{7}, tc.size)
			err := s.Put(context.Background(), "u/dump.tar.zst.age", bytes.NewReader(data))
			if corrupted.Load() == 0 {
				t.Fatal("the proxy corrupted nothing: the test is broken")
			}
			if err == nil {
				t.Fatal("Put of corrupted data succeeded")
			}
			t.Logf("Put error: %v", err)
			if _, err := s.Stat(context.Background(), "u/dump.tar.zst.age"); !errors.Is(err, upload.ErrNotExist) {
				t.Fatalf("a corrupted upload left an object: Stat err = %v", err)
			}
		})
	}
}

// Objects larger than a chunk go up in several requests of one resumable
// session.
func TestResumableChunks(t *testing.T) {
	var chunks atomic.Int32
	throughProxy(t, gstest.Start(t, "dumps"), func(r *http.Request) {
		if r.URL.Query().Has("upload_id") {
			chunks.Add(1)
		}
	})
	s := open(t, "gs://dumps")
	s.ChunkSize = 256 << 10
	data := bytes.Repeat([]byte("x"), 1<<20)
	if err := s.Put(context.Background(), "u/dump.tar.zst.age", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if n := chunks.Load(); n < 4 {
		t.Fatalf("1 MiB in 256 KiB chunks took %d chunk requests", n)
	}
}

// throughProxy points STORAGE_EMULATOR_HOST at a proxy in front of srv that
// shows every outgoing request to onRequest (which may change it).
func throughProxy(t *testing.T, srv *fakestorage.Server, onRequest func(*http.Request)) {
	t.Helper()
	serveAsEmulator(t, proxyTo(t, srv, onRequest))
}

// proxyTo returns a proxy to srv that shows every outgoing request to
// onRequest.
func proxyTo(t *testing.T, srv *fakestorage.Server, onRequest func(*http.Request)) http.Handler {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // keep the Host fake-gcs-server routes signed paths by
		onRequest(pr.Out)
	}}
}

// serveAsEmulator serves h and points STORAGE_EMULATOR_HOST at it.
func serveAsEmulator(t *testing.T, h http.Handler) {
	ps := httptest.NewServer(h)
	t.Cleanup(ps.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", ps.URL)
}

type flipper struct {
	r   io.ReadCloser
	at  int64
	off int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.off; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipper) Close() error { return f.r.Close() }

func TestMissingBucket(t *testing.T) {
	gstest.Start(t, "dumps")
	s := open(t, "gs://no-such-bucket/p")
	ctx := context.Background()
	err := s.Put(ctx, "u/info.json", strings.NewReader("{}"))
	checkMsg(t, "Put", err, `bucket "no-such-bucket" does not exist`)
	_, err = s.List(ctx, "")
	checkMsg(t, "List", err, `bucket "no-such-bucket" does not exist`)
}

// A wrong endpoint fails by itself after a few retries, well before the
// caller's deadline.
func TestEmulatorUnreachable(t *testing.T) {
	l := httptest.NewServer(http.NotFoundHandler())
	addr := l.Listener.Addr().String()
	l.Close() // nothing listens there now
	t.Setenv("STORAGE_EMULATOR_HOST", addr)
	s := open(t, "gs://dumps")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := s.Stat(ctx, "u/info.json")
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stat retried until the deadline: %v", err)
	}
	checkMsg(t, "Stat", err, "cannot reach the storage emulator at "+addr)
	err = s.Put(ctx, "u/info.json", strings.NewReader("{}"))
	checkMsg(t, "Put", err, "cannot reach the storage emulator at "+addr)
	t.Log(err)
}

func TestPermissionDenied(t *testing.T) {
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"code":403,"message":"dump@x.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object.\nPermission 'storage.objects.create' denied on resource (or it may not exist).","errors":[{"reason":"forbidden"}]}}`)
	}))
	defer deny.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", deny.URL)
	s := open(t, "gs://dumps/p")
	err := s.Put(context.Background(), "u/info.json", strings.NewReader("{}"))
	checkMsg(t, "Put", err, `permission denied in bucket "dumps"`)
	_, err = s.List(context.Background(), "")
	checkMsg(t, "List", err, `permission denied in bucket "dumps"`)
}

func checkMsg(t *testing.T, op string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want an error saying %q", op, want)
	}
	if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Fatalf("%s error = %q, want one line containing %q", op, msg, want)
	}
}

// A signed PUT needs no credentials; its signature covers the
// generation-match header, so the URL can only create the object.
func TestPresignPut(t *testing.T) {
	gstest.Start(t, "dumps")
	gstest.ServiceAccount(t) // the key file Open finds in GOOGLE_APPLICATION_CREDENTIALS
	s := open(t, "gs://dumps/p")
	ctx := context.Background()
	p, err := s.PresignPut(ctx, "u/key.age", time.Hour)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" || q.Get("X-Goog-SignedHeaders") != "host;x-goog-if-generation-match" {
		t.Fatalf("not a V4 URL signing the generation-match header: %s", p.URL)
	}
	if !strings.HasSuffix(u.Path, "/dumps/p/u/key.age") || p.Header.Get("X-Goog-If-Generation-Match") != "0" || p.Method != http.MethodPut {
		t.Fatalf("presigned request = %+v", p)
	}

	put := func(body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = p.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := put("sealed key"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed PUT: %s", resp.Status)
	}
	rc, err := s.Get(ctx, "u/key.age")
	if err != nil {
		t.Fatalf("object from the signed PUT: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "sealed key" {
		t.Fatalf("object = %q", got)
	}
	// Real GCS answers 412 here; fake-gcs-server ignores preconditions on
	// signed PUTs. The ticket tests check the 412 handling on their own.
	if resp := put("replaced"); resp.StatusCode != http.StatusPreconditionFailed {
		t.Logf("second signed PUT: %s (fake-gcs-server does not honour x-goog-if-generation-match on signed URLs)", resp.Status)
	}

	if _, err := s.PresignPut(ctx, "u/info.json", 8*24*time.Hour); err == nil || !strings.Contains(err.Error(), "at most 7 days") {
		t.Fatalf("PresignPut for 8 days: err = %v, want the 7-day limit", err)
	}
}

// Without a service-account key there is nothing to sign with: the error
// says what to set up.
func TestPresignPutNoKey(t *testing.T) {
	skipOnGCE(t)
	gstest.Start(t, "dumps")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	s := open(t, "gs://dumps")
	_, err := s.PresignPut(context.Background(), "u/info.json", time.Hour)
	checkMsg(t, "PresignPut", err, "signing needs a service account")
}

// Outside an emulator, Open needs Application Default Credentials and says
// how to set them up.
func TestOpenWithoutCredentials(t *testing.T) {
	skipOnGCE(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir()) // no gcloud configuration
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	u, _ := url.Parse("gs://dumps/p")
	_, err := gs.Open(context.Background(), u)
	checkMsg(t, "Open", err, "open gs://dumps: no Google credentials found; set up Application Default Credentials")
}

func skipOnGCE(t *testing.T) {
	if metadata.OnGCE() {
		t.Skip("on GCE the metadata server provides credentials")
	}
}
