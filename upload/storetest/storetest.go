// Package storetest is the conformance suite every upload.Store backend must
// pass: put/get/stat/list, large objects, prefixes, not-found errors and
// overwrite refusal, failed puts that leave nothing, and the retry contract
// (a missing object or a taken name is never temporary). A backend's test
// calls Run with a constructor that returns an empty store.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dumptool/dump/upload"
)

// Options tune the suite for a backend.
type Options struct {
	// LargeSize is the size of the large-object test; 0 means 64 MiB, enough
	// to cross multipart and resumable-chunk boundaries.
	LargeSize int64
}

// Run runs the suite; newStore must return an empty store each time.
func Run(t *testing.T, newStore func(t *testing.T) upload.Store, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 64 << 20
	}
	ctx := context.Background()

	t.Run("PutGetStat", func(t *testing.T) {
		s := newStore(t)
		data := []byte("hello, support\n")
		mustPut(t, s, "u1/info.json", data)
		if got := mustGet(t, s, "u1/info.json"); !bytes.Equal(got, data) {
			t.Fatalf("Get returned %q, want %q", got, data)
		}
		fi, err := s.Stat(ctx, "u1/info.json")
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if fi.Name != "u1/info.json" || fi.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, want name u1/info.json size %d", fi, len(data))
		}
		if fi.Modified.IsZero() {
			t.Fatalf("Stat has no modification time")
		}
	})

	t.Run("EmptyObject", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "u1/empty", nil)
		if got := mustGet(t, s, "u1/empty"); len(got) != 0 {
			t.Fatalf("empty object read back %d bytes", len(got))
		}
	})

	t.Run("NotExist", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Get(ctx, "nope/dump.tar.zst.age")
		if !errors.Is(err, upload.ErrNotExist) {
			t.Fatalf("Get of a missing object: err = %v, want ErrNotExist", err)
		}
		if s.IsTemporary(err) {
			t.Fatalf("a missing object is called temporary: %v", err)
		}
		if _, err := s.Stat(ctx, "nope/dump.tar.zst.age"); !errors.Is(err, upload.ErrNotExist) {
			t.Fatalf("Stat of a missing object: err = %v, want ErrNotExist", err)
		}
		objs, err := s.List(ctx, "")
		if err != nil || len(objs) != 0 {
			t.Fatalf("List of an empty store = %v, %v; want nothing", objs, err)
		}
	})

	t.Run("OverwriteRefused", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "u1/key.age", []byte("first"))
		err := s.Put(ctx, "u1/key.age", strings.NewReader("second!"))
		if !errors.Is(err, upload.ErrExists) {
			t.Fatalf("second Put: err = %v, want ErrExists", err)
		}
		if s.IsTemporary(err) {
			t.Fatalf("a taken name is called temporary: %v", err)
		}
		if got := mustGet(t, s, "u1/key.age"); string(got) != "first" {
			t.Fatalf("object was replaced: %q", got)
		}
	})

	t.Run("ListPrefix", func(t *testing.T) {
		s := newStore(t)
		names := []string{"b2/info.json", "a1/key.age", "a1/dump.tar.zst.age", "a1/info.json", "a10/info.json"}
		for _, n := range names {
			mustPut(t, s, n, []byte(n))
		}
		all, err := s.List(ctx, "")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		want := []string{"a1/dump.tar.zst.age", "a1/info.json", "a1/key.age", "a10/info.json", "b2/info.json"}
		if got := objectNames(all); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List = %v, want %v (sorted)", got, want)
		}
		for _, o := range all {
			if o.Size != int64(len(o.Name)) {
				t.Fatalf("List size of %s = %d, want %d", o.Name, o.Size, len(o.Name))
			}
		}
		a1, err := s.List(ctx, "a1/")
		if err != nil {
			t.Fatalf("List a1/: %v", err)
		}
		if got := objectNames(a1); fmt.Sprint(got) != fmt.Sprint(want[:3]) {
			t.Fatalf("List(a1/) = %v, want %v", got, want[:3])
		}
		a, err := s.List(ctx, "a")
		if err != nil || len(a) != 4 {
			t.Fatalf("List(a) = %v, %v; want 4 objects", objectNames(a), err)
		}
	})

	t.Run("LargeObject", func(t *testing.T) {
		s := newStore(t)
		src := randSource(opts.LargeSize)
		sum := sha256.New()
		io.Copy(sum, io.NewSectionReader(src, 0, src.Size()))
		if err := s.Put(ctx, "big/dump.tar.zst.age", src); err != nil {
			t.Fatalf("Put %d bytes: %v", opts.LargeSize, err)
		}
		want := sum.Sum(nil)
		rc, err := s.Get(ctx, "big/dump.tar.zst.age")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(h, rc)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if n != opts.LargeSize || !bytes.Equal(h.Sum(nil), want) {
			t.Fatalf("read back %d bytes with a different sha256 (want %d bytes)", n, opts.LargeSize)
		}
		if rr, ok := s.(upload.RangeReader); ok {
			checkRange(t, rr, opts.LargeSize)
		}
	})

	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "u2/dump.tar.zst.age", failingSource(1<<20)); err == nil {
			t.Fatalf("Put from a failing source succeeded")
		}
		if _, err := s.Stat(ctx, "u2/dump.tar.zst.age"); !errors.Is(err, upload.ErrNotExist) {
			t.Fatalf("a failed Put left an object behind: Stat err = %v", err)
		}
		if objs, _ := s.List(ctx, ""); len(objs) != 0 {
			t.Fatalf("a failed Put left objects: %v", objectNames(objs))
		}
	})

	t.Run("Stream", func(t *testing.T) {
		s := newStore(t)
		st, ok := s.(upload.Streamer)
		if !ok {
			t.Skipf("%T cannot stream", s)
		}
		src := randSource(opts.LargeSize/2 + 17)
		if err := st.PutStream(ctx, "s/dump.tar.zst.age", io.NewSectionReader(src, 0, src.Size())); err != nil {
			t.Fatalf("PutStream: %v", err)
		}
		want, _ := io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
		if got := mustGet(t, s, "s/dump.tar.zst.age"); !bytes.Equal(got, want) {
			t.Fatalf("read back %d bytes that differ from the %d streamed", len(got), len(want))
		}
		if err := st.PutStream(ctx, "s/dump.tar.zst.age", strings.NewReader("again")); !errors.Is(err, upload.ErrExists) {
			t.Fatalf("PutStream of a taken name: %v, want ErrExists", err)
		}
		// A stream that fails (the seal failed) leaves nothing.
		if err := st.PutStream(ctx, "t/dump.tar.zst.age", io.NewSectionReader(failingSource(1<<20), 0, 1<<20)); err == nil {
			t.Fatalf("PutStream from a failing source succeeded")
		}
		if _, err := s.Stat(ctx, "t/dump.tar.zst.age"); !errors.Is(err, upload.ErrNotExist) {
			t.Fatalf("a failed PutStream left an object: %v", err)
		}
	})

	t.Run("PutDumpAndList", func(t *testing.T) {
		s := newStore(t)
		dir := t.TempDir()
		parts := upload.Parts{
			PayloadPath: writeFile(t, dir, "p", "payload-bytes"),
			KeyPath:     writeFile(t, dir, "k", "key"),
			InfoPath:    writeFile(t, dir, "i", "{}"),
		}
		if err := upload.PutDump(ctx, s, "0f1e2d3c-0000-4000-8000-000000000001", parts, nil); err != nil {
			t.Fatalf("PutDump: %v", err)
		}
		// A retry after a failure resumes: parts already stored are skipped.
		if err := upload.PutDump(ctx, s, "0f1e2d3c-0000-4000-8000-000000000001", parts, nil); err != nil {
			t.Fatalf("PutDump again: %v", err)
		}
		nometa := upload.Parts{PayloadPath: parts.PayloadPath, InfoPath: parts.InfoPath}
		if err := upload.PutDump(ctx, s, "aaaa0000-0000-4000-8000-000000000002", nometa, nil); err != nil {
			t.Fatalf("PutDump nometa: %v", err)
		}
		// A dump whose info.json never arrived is incomplete.
		mustPut(t, s, "bbbb0000-0000-4000-8000-000000000003/dump.tar.zst.age", []byte("x"))
		refs, err := upload.ListDumps(ctx, s)
		if err != nil {
			t.Fatalf("ListDumps: %v", err)
		}
		got := map[string]upload.DumpRef{}
		for _, r := range refs {
			got[r.UUID] = r
		}
		if r := got["0f1e2d3c-0000-4000-8000-000000000001"]; !r.Complete || !r.KeyIncluded || r.PayloadSize != 13 {
			t.Fatalf("full dump listed as %+v", r)
		}
		if r := got["aaaa0000-0000-4000-8000-000000000002"]; !r.Complete || r.KeyIncluded {
			t.Fatalf("nometa dump listed as %+v", r)
		}
		if r := got["bbbb0000-0000-4000-8000-000000000003"]; r.Complete {
			t.Fatalf("dump without info.json listed as complete: %+v", r)
		}
	})
}

func checkRange(t *testing.T, rr upload.RangeReader, size int64) {
	t.Helper()
	ctx := context.Background()
	full, err := rr.(upload.Store).Get(ctx, "big/dump.tar.zst.age")
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	off, n := size/3, int64(1<<20)+17
	want := make([]byte, n)
	if _, err := io.CopyN(io.Discard, full, off); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(full, want); err != nil {
		t.Fatal(err)
	}
	rc, err := rr.GetRange(ctx, "big/dump.tar.zst.age", off, n)
	if err != nil {
		t.Fatalf("GetRange: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("GetRange read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("GetRange(%d, %d) returned %d bytes that differ from the object", off, n, len(got))
	}
}

func mustPut(t *testing.T, s upload.Store, name string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), name, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
}

func mustGet(t *testing.T, s upload.Store, name string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

func objectNames(objs []upload.ObjectInfo) []string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return names
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// randSource is size bytes of reproducible noise, readable at any offset.
type randSource int64

func (r randSource) Size() int64 { return int64(r) }

func (r randSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(r) {
		return 0, io.EOF
	}
	n := len(p)
	if rest := int64(r) - off; int64(n) > rest {
		n = int(rest)
	}
	for i := range n {
		o := uint64(off) + uint64(i)
		p[i] = byte(splitmix(o/8) >> (o % 8 * 8))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// failingSource fails after its first kilobyte, as a disk that went away.
type failingSource int64

func (f failingSource) Size() int64 { return int64(f) }

func (f failingSource) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= 1024 {
		return len(p), nil
	}
	return max(0, int(1024-off)), errors.New("the disk went away")
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
