package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/dumptool/dump/internal/layout"
)

// sealTar encrypts a tar stream as dump-<id>.tar.zst.age in dir, the way
// a hostile customer could, and returns its path and session key.
func sealTar(t *testing.T, dir, id string, tarStream io.Reader) (payload, key string) {
	t.Helper()
	session, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	payload = layout.LocalFiles(dir, id).Payload
	f, err := os.Create(payload)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	aw, err := age.Encrypt(f, session.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	zw, err := zstd.NewWriter(aw, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, tarStream); err != nil {
		t.Fatal(err)
	}
	for _, c := range []io.Closer{zw, aw, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return payload, session.String()
}

// noControls fails if text meant for a terminal holds escape sequences,
// bells or carriage returns from the dump or the bucket.
func noControls(t *testing.T, what, text string) {
	t.Helper()
	if i := strings.IndexAny(text, "\x1b\a\r\x9b"); i >= 0 {
		t.Errorf("%s prints a raw control character at %d: %q", what, i, text[max(0, i-40):min(len(text), i+40)])
	}
}

// A hostile bucket: a tool_version, recipients and a directory name that
// hold terminal escapes.
func TestBucketTextIsEscaped(t *testing.T) {
	identity, _ := keygen(t)
	bucketDir := t.TempDir()
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"abcd0000-0000-4000-8000-000000000001", "abcd0000-0000-4000-8000-000000000002"}
	for _, id := range ids {
		payload := []byte("not really a payload")
		sum := sha256.Sum256(payload)
		info := layout.Info{
			Schema: layout.InfoSchema, UUID: id, ToolVersion: "\x1b]0;owned\a\x1b[2J", Created: time.Now().UTC(),
			PayloadSize: int64(len(payload)), PayloadSHA256: hex.EncodeToString(sum[:]), Parts: 1,
			Recipients: []string{"\x1b[31mX25519 age1evil\x1b[0m"}, KeyIncluded: true,
		}
		data, err := info.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var key bytes.Buffer
		aw, err := age.Encrypt(&key, other.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(aw, "AGE-SECRET-KEY-1\n")
		aw.Close()
		for name, body := range map[string][]byte{layout.InfoObject: data, layout.PayloadObject: payload, layout.KeyObject: key.Bytes()} {
			writeObject(t, bucketDir, layout.Object(id, name), body)
		}
	}
	writeObject(t, bucketDir, layout.Object("\x1b[31mevil\a", layout.InfoObject), []byte("{\"tool_version\":\"\x1b[5m\"}"))
	bucket := "file://" + bucketDir

	r := runDump(t, t.TempDir(), nil, "list", "--from", bucket)
	if r.code != 0 || !strings.Contains(r.stdout, ids[1]) {
		t.Fatalf("list: %s", r)
	}
	noControls(t, "dump list", r.stdout+r.stderr)

	r = runDump(t, t.TempDir(), nil, "decrypt", "--from", bucket, "--identity", identity, "*")
	if r.code != 2 || !strings.Contains(r.stderr, ids[1]) {
		t.Fatalf("decrypt of a glob matching two dumps: %s", r)
	}
	noControls(t, "the glob match list", r.stdout+r.stderr)

	r = runDump(t, t.TempDir(), nil, "decrypt", "--from", bucket, "--identity", identity, ids[0])
	if r.code != 1 || !strings.Contains(r.stderr, "age1evil") {
		t.Fatalf("decrypt with the wrong identity: %s", r)
	}
	noControls(t, "the wrong-identity error", r.stdout+r.stderr)
}

func writeObject(t *testing.T, root, name string, body []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// 1,000 symlinks with 1 MB names and members named with escapes: decrypt
// keeps counts and a short sample, holds little memory, and prints no
// control character.
func TestDecryptFloodIsBounded(t *testing.T) {
	const id = "abcd0000-0000-4000-8000-0000000000f1"
	prefix := layout.MemberPrefix(id)
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	for _, m := range []struct{ name, body string }{{"index.html", "<html>"}, {"bad\x1b[31mname.txt", "x"}} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + m.name, Size: int64(len(m.body)), Mode: 0o600})
		io.WriteString(tw, m.body)
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: prefix + "\x1b]0;owned\a", Linkname: "/", Mode: 0o777})
	tw.Flush()
	// One symlink with a 1 MB name, repeated: tar.Writer takes seconds per such header.
	var one bytes.Buffer
	tw1 := tar.NewWriter(&one)
	if err := tw1.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: prefix + strings.Repeat("n", 1_000_000), Linkname: "/", Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	tw1.Flush()
	parts := []io.Reader{&head}
	for range 1000 {
		parts = append(parts, bytes.NewReader(one.Bytes()))
	}
	parts = append(parts, bytes.NewReader(make([]byte, 1024)))
	payload, key := sealTar(t, t.TempDir(), id, io.MultiReader(parts...))

	out := t.TempDir()
	cmd := exec.Command(dumpBin, "decrypt", "-q", "--file", payload, "--key", key, "--out", out)
	cmd.Env = baseEnv(t)
	peakRSS := measurePeakRSS(t, cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("decrypt: %v\n%s", err, stderr.String())
	}
	rss := peakRSS()
	t.Logf("stderr %d bytes, peak RSS %d MiB", stderr.Len(), rss>>20)
	if stderr.Len() > 64<<10 {
		t.Errorf("decrypt -q wrote %d bytes to stderr, want at most 64 KiB", stderr.Len())
	}
	if rss > 256<<20 {
		t.Errorf("decrypt peaked at %d MiB of memory, want at most 256", rss>>20)
	}
	noControls(t, "decrypt", stdout.String()+stderr.String())
	if _, err := os.Stat(filepath.Join(out, id, "bad%1B[31mname.txt")); err != nil {
		t.Errorf("the member named with an escape was not written escaped: %v", err)
	}
}

// An archive made by stock tools, without the dump-<uuid>/ directory, is
// extracted under --out/<uuid>/; one without files fails.
func TestDecryptStockMadeArchive(t *testing.T) {
	const id = "abcd0000-0000-4000-8000-0000000000a1"
	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	writeObject(t, tree, "index.html", []byte("<html>"))
	writeObject(t, tree, "system/uname.txt", []byte("Linux"))
	os.Mkdir(filepath.Join(work, "empty"), 0o700)
	sh(t, "cd "+work+" && age-keygen -o s.key 2>/dev/null && mkdir sealed empty-sealed"+
		" && tar -c -C tree . | zstd -q | age -r $(age-keygen -y s.key) > sealed/dump-"+id+".tar.zst.age"+
		" && tar -c -C empty . | zstd -q | age -r $(age-keygen -y s.key) > empty-sealed/dump-"+id+".tar.zst.age")
	key := strings.TrimSpace(sh(t, "grep AGE-SECRET-KEY "+filepath.Join(work, "s.key")))

	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "decrypt", "--file", filepath.Join(work, "sealed", "dump-"+id+".tar.zst.age"), "--key", key, "--out", out)
	if r.code != 0 || r.lastLine() != filepath.Join(out, id) {
		t.Fatalf("decrypt of a stock-made archive: %s", r)
	}
	if got := readFile(t, filepath.Join(out, id, "system", "uname.txt")); got != "Linux" {
		t.Errorf("system/uname.txt = %q", got)
	}

	out = t.TempDir()
	r = runDump(t, t.TempDir(), nil, "decrypt", "--file", filepath.Join(work, "empty-sealed", "dump-"+id+".tar.zst.age"), "--key", key, "--out", out)
	if r.code == 0 || !strings.Contains(r.stderr, "no files") {
		t.Fatalf("decrypt of an archive without files: %s", r)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("an empty extraction left %v", ents)
	}
}
