package gs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dumptool/dump/internal/tracing/tracingtest"
	"github.com/dumptool/dump/upload/gs/gstest"
)

// threeChunks is the size of an upload of three 256 KiB chunks, the last
// one short.
const threeChunks = 2*256<<10 + 1000

// Each chunk of a resumable upload is a span of the upload: in order, with
// the byte ranges that make up the object, each accepted on its first
// attempt.
func TestChunksAreSpans(t *testing.T) {
	gstest.Start(t, "dumps")
	s := open(t, "gs://dumps")
	s.ChunkSize = 256 << 10
	ctx, rec, root := tracingtest.Start("run")
	if err := s.Put(ctx, "u/dump.tar.zst.age", bytes.NewReader(bytes.Repeat([]byte{7}, threeChunks))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	root.End()

	paths := tracingtest.Paths(rec.Ended())
	var chunks []sdktrace.ReadOnlySpan
	for i, sp := range rec.Ended() {
		switch {
		case strings.HasPrefix(paths[i], "run > chunk "):
			chunks = append(chunks, sp)
		case paths[i] != "run":
			t.Errorf("unexpected span %q", paths[i])
		}
	}
	if len(chunks) != 3 {
		t.Fatalf("%d chunk spans, want 3; spans:\n%s", len(chunks), strings.Join(paths, "\n"))
	}
	var next int64
	for i, sp := range chunks {
		a := attrs(sp)
		if want := fmt.Sprintf("chunk %d", i+1); sp.Name() != want || a["chunk"].AsInt64() != int64(i+1) {
			t.Errorf("span %d is %q (chunk %v), want %q", i, sp.Name(), a["chunk"].Emit(), want)
		}
		if a["offset"].AsInt64() != next {
			t.Errorf("%s starts at byte %d, want %d", sp.Name(), a["offset"].AsInt64(), next)
		}
		next += a["bytes"].AsInt64()
		if a["attempts"].AsInt64() != 1 || len(sp.Events()) != 0 {
			t.Errorf("%s took %d attempts (events %v), want 1", sp.Name(), a["attempts"].AsInt64(), sp.Events())
		}
		// 308 Resume Incomplete for all but the last chunk, which creates
		// the object.
		if want := map[bool]int64{true: 200, false: 308}[i == 2]; a["http.response.status_code"].AsInt64() != want {
			t.Errorf("%s: status %d, want %d", sp.Name(), a["http.response.status_code"].AsInt64(), want)
		}
	}
	if next != threeChunks {
		t.Errorf("the chunks' ranges add up to %d bytes, want %d", next, threeChunks)
	}
}

// refuseOnce answers 503 to the first request of each kind in refuse
// ("session" for the request that opens an upload, a chunk's first byte, or
// the method and path of any other request), or closes its connection if
// cut is set, and passes everything else to next.
type refuseOnce struct {
	next http.Handler
	cut  bool

	mu     sync.Mutex
	refuse []string
}

func (p *refuseOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := "session"
	if cr := r.Header.Get("Content-Range"); cr != "" {
		kind, _, _ = strings.Cut(strings.TrimPrefix(cr, "bytes "), "-")
	} else if r.URL.Query().Get("uploadType") != "resumable" {
		kind = r.Method + " " + r.URL.Path
	}
	p.mu.Lock()
	i := slices.Index(p.refuse, kind)
	if i >= 0 {
		p.refuse = slices.Delete(p.refuse, i, i+1)
	}
	p.mu.Unlock()
	if i < 0 {
		p.next.ServeHTTP(w, r)
		return
	}
	if p.cut {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"error":{"code":503,"message":"Service Unavailable"}}`)
}

// A request the library repeats is a "retry" span: of its chunk, or of the
// upload for the request that opens the session. The refused attempt is
// an event saying why.
func TestRetriesAreSpans(t *testing.T) {
	srv := gstest.Start(t, "dumps")
	p := &refuseOnce{next: proxyTo(t, srv, func(*http.Request) {}), refuse: []string{"session", fmt.Sprint(256 << 10)}}
	serveAsEmulator(t, p)
	s := open(t, "gs://dumps")
	s.ChunkSize = 256 << 10
	ctx, rec, root := tracingtest.Start("run")
	data := bytes.Repeat([]byte("retried "), threeChunks/8)
	if err := s.PutStream(ctx, "u/dump.tar.zst.age", bytes.NewReader(data)); err != nil {
		t.Fatalf("PutStream: %v", err)
	}
	root.End()
	if len(p.refuse) != 0 {
		t.Fatalf("never refused %v: the test is broken", p.refuse)
	}

	const upload = "run > put stream u/dump.tar.zst.age"
	paths := tracingtest.Paths(rec.Ended())
	var retries []string
	for i, sp := range rec.Ended() {
		if sp.Name() == "retry" {
			retries = append(retries, paths[i])
			if a := attrs(sp); a["attempt"].AsInt64() != 2 || a["http.response.status_code"].AsInt64() == 503 {
				t.Errorf("%s: attempt %d, status %d; want attempt 2, accepted", paths[i], a["attempt"].AsInt64(), a["http.response.status_code"].AsInt64())
			}
		}
		switch paths[i] {
		case upload:
			wantRefusal(t, sp)
		case upload + " > chunk 2":
			wantRefusal(t, sp)
			if a := attrs(sp); a["attempts"].AsInt64() != 2 || a["http.response.status_code"].AsInt64() != 308 {
				t.Errorf("%s: %d attempts, accepted with %d; want 2, 308", paths[i], a["attempts"].AsInt64(), a["http.response.status_code"].AsInt64())
			}
		case upload + " > chunk 1", upload + " > chunk 3":
			if n := attrs(sp)["attempts"].AsInt64(); n != 1 {
				t.Errorf("%s took %d attempts, want 1", paths[i], n)
			}
		}
	}
	slices.Sort(retries)
	if want := []string{upload + " > chunk 2 > retry", upload + " > retry"}; !slices.Equal(retries, want) {
		t.Errorf("retry spans %q, want %q; spans:\n%s", retries, want, strings.Join(paths, "\n"))
	}
	rc, err := s.Get(context.Background(), "u/dump.tar.zst.age")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, data) {
		t.Fatalf("the retried upload stored %d bytes that differ from the %d sent", len(got), len(data))
	}
}

// The library's retries of other requests are spans too, of the operation.
func TestReadRetriesAreSpans(t *testing.T) {
	srv := gstest.Start(t, "dumps")
	if err := open(t, "gs://dumps").Put(context.Background(), "u/info.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	p := &refuseOnce{next: proxyTo(t, srv, func(*http.Request) {}), refuse: []string{"GET /storage/v1/b/dumps/o/u/info.json"}}
	serveAsEmulator(t, p)
	s := open(t, "gs://dumps")
	ctx, rec, root := tracingtest.Start("run")
	if _, err := s.Stat(ctx, "u/info.json"); err != nil {
		t.Fatalf("Stat: %v", err)
	}
	root.End()
	if len(p.refuse) != 0 {
		t.Fatalf("never refused %v: the test is broken", p.refuse)
	}
	paths := tracingtest.Paths(rec.Ended())
	if !slices.Equal(paths, []string{"run > retry", "run"}) {
		t.Fatalf("spans %q, want the retry of the refused request under the run", paths)
	}
	if a := attrs(rec.Ended()[0]); a["attempt"].AsInt64() != 2 || a["http.response.status_code"].AsInt64() != 200 {
		t.Errorf("retry: attempt %d, status %d; want attempt 2, 200", a["attempt"].AsInt64(), a["http.response.status_code"].AsInt64())
	}
	wantRefusal(t, rec.Ended()[1])
}

// A connection cut before the answer is retried too; the event says what
// became of it.
func TestCutConnectionIsRetrySpan(t *testing.T) {
	srv := gstest.Start(t, "dumps")
	p := &refuseOnce{next: proxyTo(t, srv, func(*http.Request) {}), cut: true, refuse: []string{fmt.Sprint(256 << 10)}}
	serveAsEmulator(t, p)
	s := open(t, "gs://dumps")
	s.ChunkSize = 256 << 10
	ctx, rec, root := tracingtest.Start("run")
	if err := s.Put(ctx, "u/dump.tar.zst.age", bytes.NewReader(bytes.Repeat([]byte{7}, threeChunks))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	root.End()
	paths := tracingtest.Paths(rec.Ended())
	if !slices.Contains(paths, "run > chunk 2 > retry") {
		t.Fatalf("no retry span of chunk 2; spans:\n%s", strings.Join(paths, "\n"))
	}
	for _, sp := range rec.Ended() {
		if sp.Name() != "chunk 2" {
			continue
		}
		// Whether the client was still sending or already waiting for
		// the answer decides which.
		cut := []string{"connection reset by peer", "broken pipe", "connection closed"}
		if ev := sp.Events(); len(ev) != 1 || !slices.Contains(cut, byKey(ev[0].Attributes)["error.type"].AsString()) {
			t.Errorf("chunk 2: events %v, want one failed attempt whose error.type is one of %q", ev, cut)
		}
	}
}

// wantRefusal checks that sp says its first attempt was refused with 503.
func wantRefusal(t *testing.T, sp sdktrace.ReadOnlySpan) {
	t.Helper()
	if len(sp.Events()) != 1 {
		t.Errorf("%s: events %v, want one failed attempt", sp.Name(), sp.Events())
		return
	}
	e := sp.Events()[0]
	a := byKey(e.Attributes)
	if e.Name != "attempt failed" || a["attempt"].AsInt64() != 1 || a["error.type"].AsString() != "503" {
		t.Errorf("%s: event %s %v, want attempt 1 failed with error.type 503", sp.Name(), e.Name, e.Attributes)
	}
}

func attrs(sp sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value { return byKey(sp.Attributes()) }

func byKey(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}
