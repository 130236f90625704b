package ticket_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/gs"
	"github.com/dumptool/dump/upload/gs/gstest"
	"github.com/dumptool/dump/upload/retry"
	"github.com/dumptool/dump/upload/stores"
	"github.com/dumptool/dump/upload/ticket"
)

const id = "0f1e2d3c-0000-4000-8000-00000000000a"

func sealed(t *testing.T, payloadSize int) (upload.Parts, []byte) {
	t.Helper()
	dir := t.TempDir()
	payload := make([]byte, payloadSize)
	rand.Read(payload)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return upload.Parts{
		PayloadPath: write("dump.tar.zst.age", payload),
		KeyPath:     write("key.age", []byte("age-encryption.org/v1 sealed key")),
		InfoPath:    write("info.json", []byte(`{"uuid":"`+id+`"}`)),
	}, payload
}

// Support makes a ticket against GCS (fake-gcs-server, signing with a
// service-account key); the customer, with a plain HTTP client and no
// credentials, uploads the dump; support then lists it as complete and reads
// the payload back intact.
func TestFlowGCS(t *testing.T) {
	gstest.Start(t, "support")
	gstest.ServiceAccount(t)
	u, _ := url.Parse("gs://support/dumps")
	bucket, err := gs.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	ctx := context.Background()

	s, err := ticket.Create(ctx, bucket, bucket.String(), id, 72*time.Hour)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Logf("ticket: %d characters", len(s))

	// The customer's side: nothing but the string.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	tk, err := ticket.Parse(s)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if tk.UUID != id || tk.Dest != "gs://support/dumps" || time.Until(tk.Expires) < 71*time.Hour || time.Until(tk.Expires) > 72*time.Hour {
		t.Fatalf("parsed ticket = uuid %s dest %s expires %s", tk.UUID, tk.Dest, tk.Expires)
	}
	store := tk.Store(&http.Client{})
	if got := store.String(); got != "ticket for gs://support/dumps/"+id {
		t.Errorf("String() = %q", got)
	}
	parts, payload := sealed(t, 5<<20)
	if err := upload.PutDump(ctx, store, id, parts, nil); err != nil {
		t.Fatalf("PutDump with the ticket: %v", err)
	}

	refs, err := upload.ListDumps(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].UUID != id || !refs[0].Complete || !refs[0].KeyIncluded || refs[0].PayloadSize != int64(len(payload)) {
		t.Fatalf("ListDumps = %+v, want one complete dump %s with key and %d bytes", refs, id, len(payload))
	}
	rc, err := bucket.Get(ctx, id+"/"+layout.PayloadObject)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, payload) {
		t.Fatal("payload read back differs")
	}

	// A ticket can only upload.
	if _, err := store.List(ctx, ""); !errors.Is(err, ticket.ErrUploadOnly) {
		t.Errorf("List with a ticket: err = %v", err)
	}
	if _, err := store.Get(ctx, id+"/info.json"); !errors.Is(err, ticket.ErrUploadOnly) {
		t.Errorf("Get with a ticket: err = %v", err)
	}
	// ... and only this dump.
	if err := store.Put(ctx, "other/info.json", strings.NewReader("{}")); err == nil {
		t.Errorf("Put of another dump's object succeeded")
	}
}

// fakeGCS stands for a bucket behind signed URLs, for what fake-gcs-server
// does not do: it honours x-goog-if-generation-match: 0 (412 when the
// object exists) and can be told to fail requests.
type fakeGCS struct {
	mu      sync.Mutex
	objects map[string][]byte
	// fail, if set, answers a request instead of the bucket (ok false):
	// status 0 means drop the connection. With ok true the request goes
	// through; status -1 then drops the connection after storing.
	fail func(name string) (status int, body string, ok bool)
	t    *testing.T
}

func newFakeGCS(t *testing.T) (*fakeGCS, *httptest.Server) {
	f := &fakeGCS{objects: map[string][]byte{}, t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/bucket/")
	if r.Method != http.MethodPut || r.URL.Query().Get("X-Goog-Signature") == "" {
		http.Error(w, "want a signed PUT", http.StatusBadRequest)
		return
	}
	if len(r.TransferEncoding) > 0 || r.ContentLength < 0 {
		http.Error(w, "<Error><Code>MissingContentLength</Code></Error>", http.StatusLengthRequired)
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	dropAfter := false
	if fail != nil {
		status, body, ok := fail(name)
		dropAfter = ok && status == -1
		if !ok {
			if status == 0 {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[name]; ok && r.Header.Get("X-Goog-If-Generation-Match") == "0" {
		w.WriteHeader(http.StatusPreconditionFailed)
		io.WriteString(w, `<?xml version='1.0' encoding='UTF-8'?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold.</Message></Error>`)
		return
	}
	f.objects[name] = data
	if dropAfter {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
}

func (f *fakeGCS) setFail(fn func(name string) (int, string, bool)) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

// presigner hands out URLs to the fake bucket in the shape GCS signs them.
type presigner struct{ base string }

func (p presigner) PresignPut(ctx context.Context, name string, expires time.Duration) (upload.PresignedPut, error) {
	return upload.PresignedPut{
		Method: http.MethodPut,
		URL:    p.base + "/bucket/" + name + "?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=00",
		Header: http.Header{"X-Goog-If-Generation-Match": {"0"}},
	}, nil
}

func fakeTicket(t *testing.T, srv *httptest.Server) upload.Store {
	t.Helper()
	return newTicket(t, srv).Store(nil)
}

func newTicket(t *testing.T, srv *httptest.Server) *ticket.Ticket {
	t.Helper()
	s, err := ticket.Create(context.Background(), presigner{srv.URL}, "gs://support", id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ticket.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// Uploading again with a used ticket says so, and changes nothing.
func TestReusedTicket(t *testing.T) {
	f, srv := newFakeGCS(t)
	store := fakeTicket(t, srv)
	ctx := context.Background()
	parts, payload := sealed(t, 1000)
	if err := upload.PutDump(ctx, store, id, parts, nil); err != nil {
		t.Fatalf("first PutDump: %v", err)
	}
	other, _ := sealed(t, 2000)
	err := upload.PutDump(ctx, store, id, other, nil)
	if !errors.Is(err, upload.ErrExists) || !strings.Contains(err.Error(), "this ticket was already used: the dump "+id+" is already uploaded; ask support for a new ticket") {
		t.Fatalf("PutDump with a used ticket: err = %v", err)
	}
	if !bytes.Equal(f.objects[id+"/dump.tar.zst.age"], payload) {
		t.Fatal("the payload was replaced")
	}
}

// The upload stopped after the payload; running it again with the same sealed
// files and the same ticket finishes the dump.
func TestResumeAfterPartialUpload(t *testing.T) {
	f, srv := newFakeGCS(t)
	store := fakeTicket(t, srv)
	ctx := context.Background()
	parts, payload := sealed(t, 1000)
	f.setFail(func(name string) (int, string, bool) {
		return http.StatusForbidden, "<Error><Code>AccessDenied</Code><Message>denied for the test</Message></Error>", strings.HasSuffix(name, layout.PayloadObject)
	})
	err := upload.PutDump(ctx, store, id, parts, nil)
	if err == nil || !strings.Contains(err.Error(), "AccessDenied: denied for the test") {
		t.Fatalf("first PutDump: err = %v, want the server's AccessDenied", err)
	}
	if len(f.objects) != 1 {
		t.Fatalf("after the failure the bucket holds %d objects, want the payload only", len(f.objects))
	}
	f.setFail(nil)
	if err := upload.PutDump(ctx, store, id, parts, nil); err != nil {
		t.Fatalf("PutDump again: %v", err)
	}
	if len(f.objects) != 3 || !bytes.Equal(f.objects[id+"/dump.tar.zst.age"], payload) {
		t.Fatalf("after the re-run the bucket holds %d objects", len(f.objects))
	}
}

// 503s and dropped connections are temporary, retried by the one retry
// wrapper (stores.Ticket), which reads the file again; the data arrives
// intact.
func TestRetries(t *testing.T) {
	f, srv := newFakeGCS(t)
	store := stores.Ticket(newTicket(t, srv), nil, stores.Options{Retry: retry.Options{InitialInterval: time.Millisecond}})
	var mu sync.Mutex
	tries := map[string]int{}
	f.setFail(func(name string) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		tries[name]++
		switch {
		case tries[name] == 1 && strings.HasSuffix(name, layout.PayloadObject):
			return http.StatusServiceUnavailable, "<Error><Code>ServiceUnavailable</Code></Error>", false
		case tries[name] == 1 && strings.HasSuffix(name, layout.KeyObject):
			return 0, "", false // connection dropped
		case tries[name] == 1 && strings.HasSuffix(name, layout.InfoObject):
			return -1, "", true // stored, then the connection dropped
		}
		return 0, "", true
	})
	parts, payload := sealed(t, 300_000)
	if err := upload.PutDump(context.Background(), store, id, parts, nil); err != nil {
		t.Fatalf("PutDump through failures: %v", err)
	}
	if tries[id+"/dump.tar.zst.age"] != 2 || tries[id+"/key.age"] != 2 || tries[id+"/info.json"] != 2 {
		t.Fatalf("tries = %v, want two of each", tries)
	}
	if !bytes.Equal(f.objects[id+"/dump.tar.zst.age"], payload) || len(f.objects) != 3 {
		t.Fatal("the dump did not arrive intact")
	}
}

// The ticket store makes one attempt per call and says whether it is worth
// another: it does not retry by itself (the wrapper does, once).
func TestOneAttemptPerCall(t *testing.T) {
	f, srv := newFakeGCS(t)
	tk := fakeTicket(t, srv)
	n := 0
	f.setFail(func(string) (int, string, bool) {
		n++
		return http.StatusServiceUnavailable, "<Error><Code>ServiceUnavailable</Code></Error>", false
	})
	err := tk.Put(context.Background(), id+"/info.json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "503") || n != 1 || !tk.IsTemporary(err) {
		t.Fatalf("Put = %v after %d requests; want a temporary 503 after one", err, n)
	}
}

// The server's clock decides: an expiry it reports is an expiry.
func TestServerSaysExpired(t *testing.T) {
	f, srv := newFakeGCS(t)
	store := fakeTicket(t, srv)
	f.setFail(func(string) (int, string, bool) {
		return http.StatusBadRequest, "<Error><Code>ExpiredToken</Code><Message>Invalid argument.</Message><Details>Request has expired: 1700000000</Details></Error>", false
	})
	err := store.Put(context.Background(), id+"/info.json", strings.NewReader("{}"))
	if !errors.Is(err, ticket.ErrExpired) || !strings.Contains(err.Error(), "ask support for a new one") {
		t.Fatalf("Put = %v, want ErrExpired", err)
	}
}

// A source shorter than promised fails, and is not retried as a network error.
func TestShortSource(t *testing.T) {
	f, srv := newFakeGCS(t)
	store := fakeTicket(t, srv)
	err := store.Put(context.Background(), id+"/info.json", io.NewSectionReader(strings.NewReader("{}"), 0, 10))
	if err == nil || !strings.Contains(err.Error(), "read 2 bytes, expected 10") {
		t.Fatalf("Put of a short source = %v", err)
	}
	if len(f.objects) != 0 {
		t.Fatal("a short upload stored an object")
	}
}
