package decrypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/file"
)

// fixture is a sealed dump of a small tree, uploaded to a file:// store.
type fixture struct {
	src     string // the tree that was sealed
	sealed  *crypto.Sealed
	support *age.X25519Identity
	store   *file.Store
	root    string // the store's directory
	out     string
}

func newFixture(t *testing.T, includeKey bool) *fixture {
	t.Helper()
	f := &fixture{src: t.TempDir(), root: t.TempDir(), out: filepath.Join(t.TempDir(), "out")}
	writeTree(t, f.src)
	var err error
	if f.support, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	rec, _, err := crypto.ParseRecipient(f.support.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	f.sealed, err = crypto.Seal(context.Background(), f.src, crypto.SealOptions{
		Recipients: []age.Recipient{rec}, IncludeKey: includeKey, OutDir: t.TempDir(), ToolVersion: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.store, err = file.New(f.root); err != nil {
		t.Fatal(err)
	}
	parts := upload.Parts{PayloadPath: f.sealed.PayloadPath, KeyPath: f.sealed.KeyPath, InfoPath: f.sealed.InfoPath}
	if err := upload.PutDump(context.Background(), f.store, f.sealed.Info.UUID, parts, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) id() string { return f.sealed.Info.UUID }

func (f *fixture) opts() Options {
	return Options{Identities: []age.Identity{f.support}, OutDir: f.out}
}

// object is the path of a stored object, for tests that damage it.
func (f *fixture) object(name string) string {
	return filepath.Join(f.root, f.id(), name)
}

// writeTree makes a tree with nested directories, empty and incompressible
// files: about 600 KiB, so the payload spans many age chunks.
func writeTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]int{
		"index.html":                  2000,
		"manifest.json":               300,
		"system/uname":                100,
		"system/empty":                0,
		"systemd/h1/k3s.service/log":  200 << 10,
		"systemd/h1/k3s.service/json": 150 << 10,
		"kube/a/b/c/pods.yaml":        250 << 10,
	}
	for name, size := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, size)
		rand.Read(data)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o700); err != nil {
		t.Fatal(err)
	}
}

// treeOf maps each file and directory under dir to its content hash ("dir"
// for directories).
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			m[rel] = "dir"
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		default:
			m[rel] = "unexpected " + d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(t *testing.T, want, got string) {
	t.Helper()
	w, g := treeOf(t, want), treeOf(t, got)
	for k, v := range w {
		if g[k] != v {
			t.Errorf("%s: extracted %q, want %q", k, g[k], v)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("%s: extracted but not in the dump", k)
		}
	}
}

// failed checks that a failed decrypt left nothing in the output directory.
func failed(t *testing.T, f *fixture, err error, is ...error) {
	t.Helper()
	if err == nil {
		t.Fatal("decrypt succeeded")
	}
	for _, target := range is {
		if !errors.Is(err, target) {
			t.Errorf("err = %v, want it to wrap %v", err, target)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	ents, _ := os.ReadDir(f.out)
	for _, e := range ents {
		t.Errorf("left in the output directory after a failure: %s", e.Name())
	}
}

// slowRanges is the file store with ranges that complete out of order.
type slowRanges struct {
	*file.Store
	ranges atomic.Int32
}

func (s *slowRanges) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	s.ranges.Add(1)
	d, _ := rand.Int(rand.Reader, big.NewInt(3000))
	time.Sleep(time.Duration(d.Int64()) * time.Microsecond)
	return s.Store.GetRange(ctx, name, off, n)
}

func TestFromStoreRoundTrip(t *testing.T) {
	f := newFixture(t, true)
	for _, tc := range []struct {
		name        string
		store       upload.Store
		concurrency int
		chunk       int64
		minRanges   int32
	}{
		{"ranged, small chunks, out of order", &slowRanges{Store: f.store}, 3, 4096 + 7, 100},
		{"ranged, defaults", &slowRanges{Store: f.store}, 0, 64 << 10, 5},
		{"single get", f.store, 1, 4096, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.opts()
			opts.OutDir = t.TempDir()
			opts.Concurrency = tc.concurrency
			opts.chunkSize = tc.chunk
			var seen int64
			opts.Wrap = func(name string, r io.Reader, size int64) io.Reader {
				if name != f.id()+"/"+layout.PayloadObject || size != f.sealed.Info.PayloadSize {
					t.Errorf("wrap(%q, %d)", name, size)
				}
				return io.TeeReader(r, writerFunc(func(p []byte) { seen += int64(len(p)) }))
			}

			refs, err := Find(context.Background(), tc.store, f.id()[:8])
			if err != nil || len(refs) != 1 {
				t.Fatalf("Find by prefix: %v, %v", refs, err)
			}
			res, err := FromStore(context.Background(), tc.store, refs[0].UUID, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Dir != filepath.Join(opts.OutDir, f.id()) || res.UUID != f.id() || res.Info.PayloadSHA256 != f.sealed.Info.PayloadSHA256 {
				t.Errorf("result = %+v", res)
			}
			sameTree(t, f.src, res.Dir)
			if res.Stats.Files != 7 || res.Stats.Skipped != 0 {
				t.Errorf("stats = %+v, want 7 files and nothing skipped", res.Stats)
			}
			if seen != f.sealed.Info.PayloadSize {
				t.Errorf("wrap saw %d bytes, want %d", seen, f.sealed.Info.PayloadSize)
			}
			if s, ok := tc.store.(*slowRanges); ok && s.ranges.Load() < tc.minRanges {
				t.Errorf("%d ranged reads, want at least %d", s.ranges.Load(), tc.minRanges)
			}
		})
	}
}

type writerFunc func([]byte)

func (w writerFunc) Write(p []byte) (int, error) { w(p); return len(p), nil }

func TestFromStoreRefusesExistingTarget(t *testing.T) {
	f := newFixture(t, true)
	existing := filepath.Join(f.out, f.id())
	if err := os.MkdirAll(existing, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := FromStore(context.Background(), f.store, f.id(), f.opts())
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want 'already exists'", err)
	}
	if ents, _ := os.ReadDir(existing); len(ents) != 0 {
		t.Errorf("existing directory was written to: %v", ents)
	}
}

func TestFromStoreWrongIdentity(t *testing.T) {
	f := newFixture(t, true)
	other, _ := age.GenerateX25519Identity()
	opts := f.opts()
	opts.Identities = []age.Identity{other}
	_, err := FromStore(context.Background(), f.store, f.id(), opts)
	failed(t, f, err, crypto.ErrWrongIdentity)
	fp := crypto.Fingerprint(f.support.Recipient().String())
	if !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "--identity") {
		t.Errorf("error %q does not name the recipient %q and say what to pass", err, fp)
	}
}

func TestFromStoreNometa(t *testing.T) {
	f := newFixture(t, false)
	if _, err := os.Stat(f.object(layout.KeyObject)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("nometa dump has a key in the store: %v", err)
	}
	_, err := FromStore(context.Background(), f.store, f.id(), f.opts())
	failed(t, f, err, ErrNoKey)
	want := "dump " + f.id() + " was uploaded without its key (nometa): ask the customer for the key=AGE-SECRET-KEY-1... line they were shown and pass --key"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}

	opts := f.opts()
	opts.Identities = nil
	wrong, _ := age.GenerateX25519Identity()
	opts.SessionKey = wrong
	_, err = FromStore(context.Background(), f.store, f.id(), opts)
	failed(t, f, err, crypto.ErrWrongKey)

	if opts.SessionKey, err = crypto.ParseSessionKey("key=" + f.sealed.SessionKey); err != nil {
		t.Fatal(err)
	}
	res, err := FromStore(context.Background(), f.store, f.id(), opts)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, f.src, res.Dir)
}

// rewriteInfo edits the stored info.json.
func rewriteInfo(t *testing.T, f *fixture, edit func(*layout.Info)) {
	t.Helper()
	info := f.sealed.Info
	edit(&info)
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	p := f.object(layout.InfoObject)
	os.Remove(p)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// damagePayload replaces the stored payload; with fixInfo the info.json is
// made to match it, as an attacker who controls the bucket would, so only
// the decryption can notice.
func damagePayload(t *testing.T, f *fixture, fixInfo bool, damage func([]byte) []byte) {
	t.Helper()
	p := f.object(layout.PayloadObject)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data = damage(data)
	os.Remove(p)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if fixInfo {
		sum := sha256.Sum256(data)
		rewriteInfo(t, f, func(i *layout.Info) {
			i.PayloadSize = int64(len(data))
			i.PayloadSHA256 = hex.EncodeToString(sum[:])
		})
	}
}

func TestFromStoreDamagedPayload(t *testing.T) {
	half := func(b []byte) []byte { return b[:len(b)/2] }
	nearEnd := func(b []byte) []byte { return b[:len(b)-10] }
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }
	flipLast := func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }
	for _, tc := range []struct {
		name    string
		fixInfo bool
		damage  func([]byte) []byte
		is      []error
	}{
		{"cut at half", false, half, []error{ErrChecksum}},
		{"cut near the end", false, nearEnd, []error{ErrChecksum}},
		{"flipped byte", false, flip, nil}, // age authentication fails before the sha256 is known
		{"flipped last byte", false, flipLast, []error{ErrChecksum}},
		{"cut at half, info matching", true, half, []error{crypto.ErrTruncated}},
		{"cut near the end, info matching", true, nearEnd, []error{crypto.ErrTruncated}},
		{"flipped byte, info matching", true, flip, []error{crypto.ErrTampered}},
		// crypto cannot tell a damaged last chunk from a cut one.
		{"flipped last byte, info matching", true, flipLast, []error{crypto.ErrTruncated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			damagePayload(t, f, tc.fixInfo, tc.damage)
			for _, chunk := range []int64{0, 8192} { // one Get; ranged
				opts := f.opts()
				opts.chunkSize = chunk
				_, err := FromStore(context.Background(), f.store, f.id(), opts)
				failed(t, f, err, tc.is...)
			}
		})
	}
}

func TestFromStoreChecksumMismatch(t *testing.T) {
	f := newFixture(t, true)
	rewriteInfo(t, f, func(i *layout.Info) { i.PayloadSHA256 = strings.Repeat("0", 64) })
	opts := f.opts()
	opts.chunkSize = 16 << 10
	_, err := FromStore(context.Background(), f.store, f.id(), opts)
	failed(t, f, err, ErrChecksum)
	if !strings.Contains(err.Error(), "sha256") {
		t.Errorf("error %q does not mention the sha256", err)
	}

	rewriteInfo(t, f, func(i *layout.Info) { i.PayloadSize++ })
	_, err = FromStore(context.Background(), f.store, f.id(), opts)
	failed(t, f, err, ErrChecksum)
}

func TestFromStoreIncomplete(t *testing.T) {
	f := newFixture(t, true)
	os.Remove(f.object(layout.InfoObject))
	_, err := FromStore(context.Background(), f.store, f.id(), f.opts())
	failed(t, f, err)
	if !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("err = %v, want it to say the upload did not finish", err)
	}
}

func TestFromFile(t *testing.T) {
	f := newFixture(t, true)
	res, err := FromFile(context.Background(), f.sealed.PayloadPath, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, f.src, filepath.Join(f.out, f.id()))
	if res.Info.UUID != f.id() {
		t.Errorf("info = %+v", res.Info)
	}

	// Without its info the uuid comes from the name and the tree still opens.
	os.Remove(f.sealed.InfoPath)
	opts := f.opts()
	opts.OutDir = t.TempDir()
	if _, err := FromFile(context.Background(), f.sealed.PayloadPath, opts); err != nil {
		t.Fatal(err)
	}
	sameTree(t, f.src, filepath.Join(opts.OutDir, f.id()))
}

func TestFromFileRenamedUsesInfo(t *testing.T) {
	f := newFixture(t, false)
	dir := t.TempDir()
	for from, to := range map[string]string{f.sealed.PayloadPath: "case-123.tar.zst.age", f.sealed.InfoPath: "case-123.json"} {
		if err := os.Rename(from, filepath.Join(dir, to)); err != nil {
			t.Fatal(err)
		}
	}
	payload := filepath.Join(dir, "case-123.tar.zst.age")
	_, err := FromFile(context.Background(), payload, f.opts())
	failed(t, f, err, ErrNoKey)
	if !strings.Contains(err.Error(), f.id()) {
		t.Errorf("err = %v, want it to name the dump from its info", err)
	}
	opts := f.opts()
	opts.SessionKey, _ = crypto.ParseSessionKey(f.sealed.SessionKey)
	res, err := FromFile(context.Background(), payload, opts)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, f.src, res.Dir)

	os.Remove(filepath.Join(dir, "case-123.json"))
	opts.OutDir = t.TempDir()
	if _, err := FromFile(context.Background(), payload, opts); err == nil || !strings.Contains(err.Error(), "cannot tell which dump") {
		t.Errorf("err = %v, want 'cannot tell which dump'", err)
	}
}

func TestFromFileTruncated(t *testing.T) {
	f := newFixture(t, true)
	data, err := os.ReadFile(f.sealed.PayloadPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.sealed.PayloadPath, data[:len(data)*3/4], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = FromFile(context.Background(), f.sealed.PayloadPath, f.opts())
	failed(t, f, err, ErrChecksum)

	os.Remove(f.sealed.InfoPath) // nothing to compare with: the decryption must notice
	_, err = FromFile(context.Background(), f.sealed.PayloadPath, f.opts())
	failed(t, f, err, crypto.ErrTruncated)
}

func TestRangedReaderStopsOnError(t *testing.T) {
	f := newFixture(t, true)
	const chunk = 8192
	s := &failingRanges{slowRanges: slowRanges{Store: f.store}, failAt: 5 * chunk}
	opts := f.opts()
	opts.chunkSize = chunk
	_, err := FromStore(context.Background(), s, f.id(), opts)
	failed(t, f, err)
	if !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("err = %v, want the download error", err)
	}
	// Ranges 0-5 and at most Concurrency-1 after the failing one: no fetch
	// starts once the reader stopped consuming.
	if n := s.ranges.Load(); n > 6+DefaultConcurrency-1 {
		t.Errorf("%d ranges fetched, want at most %d", n, 6+DefaultConcurrency-1)
	}
}

type failingRanges struct {
	slowRanges
	failAt int64 // offset
}

func (s *failingRanges) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if s.ranges.Add(1); off == s.failAt {
		return nil, errors.New("read tcp: connection reset by peer")
	}
	return s.Store.GetRange(ctx, name, off, n)
}

func BenchmarkRangedDownload(b *testing.B) {
	dir := b.TempDir()
	s, err := file.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	const size = 64 << 20
	data := make([]byte, size)
	rand.Read(data)
	if err := s.Put(context.Background(), "obj", bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		r := newRangedReader(context.Background(), s, "obj", size, defaultChunkSize, DefaultConcurrency)
		if n, err := io.Copy(io.Discard, r); err != nil || n != size {
			b.Fatal(n, err)
		}
		r.Close()
	}
}

// BenchmarkFromStore downloads (ranged), verifies, decrypts and extracts a
// 64 MiB incompressible dump; peak-heap-MiB shows that memory stays bounded.
func BenchmarkFromStore(b *testing.B) {
	src := b.TempDir()
	for i := range 8 {
		data := make([]byte, 8<<20)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d", i)), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	support, _ := age.GenerateX25519Identity()
	sealed, err := crypto.Seal(context.Background(), src, crypto.SealOptions{
		Recipients: []age.Recipient{support.Recipient()}, IncludeKey: true, OutDir: b.TempDir(),
	})
	if err != nil {
		b.Fatal(err)
	}
	s, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	parts := upload.Parts{PayloadPath: sealed.PayloadPath, KeyPath: sealed.KeyPath, InfoPath: sealed.InfoPath}
	if err := upload.PutDump(context.Background(), s, sealed.Info.UUID, parts, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(sealed.Info.PayloadSize)
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	for b.Loop() {
		opts := Options{Identities: []age.Identity{support}, OutDir: b.TempDir()}
		if _, err := FromStore(context.Background(), s, sealed.Info.UUID, opts); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
