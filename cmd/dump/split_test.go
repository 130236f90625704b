package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/upload/gs/gstest"
)

// sealed is a dump sealed by `dump seal` from a tree of 2.5 MiB that does
// not compress, so that --split 1MiB makes three parts.
type sealed struct {
	id, out, tree string
	files         layout.Local
	identity      string
}

func sealRandomTree(t *testing.T, split bool) sealed {
	t.Helper()
	identity, recipient := keygen(t)
	tree := t.TempDir()
	data := make([]byte, 5<<19)
	rand.Read(data)
	writeObject(t, tree, "index.html", []byte("<html>"))
	writeObject(t, tree, "system/random.bin", data)
	s := sealed{id: "abcd0000-0000-4000-8000-00000000005e", out: t.TempDir(), tree: tree, identity: identity}
	args := []string{"seal", tree, "--recipient", recipient, "--uuid", s.id, "--out", s.out}
	if split {
		args = append(args, "--split", "1MiB")
	}
	r := runDump(t, t.TempDir(), nil, args...)
	s.files = layout.LocalFiles(s.out, s.id)
	want := s.files.Payload
	if split {
		want = s.files.Part(1)
	}
	if r.code != 0 || r.lastLine() != want {
		t.Fatalf("seal: %s\nwant last line %s", r, want)
	}
	return s
}

func (s sealed) decrypt(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runDump(t, t.TempDir(), env, append([]string{"decrypt", "--identity", s.identity, "--out", t.TempDir()}, args...)...)
}

// checkTree compares a decrypted dump with the tree that was sealed.
func (s sealed) checkTree(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("decrypt: %s", r)
	}
	if got, want := treeDigest(t, r.lastLine()), treeDigest(t, s.tree); got != want {
		t.Fatalf("decrypted tree differs:\n%s\nwant\n%s", got, want)
	}
}

// oneLineNaming checks a failure is one line on stderr that names part.
func oneLineNaming(t *testing.T, what string, r result, part string) {
	t.Helper()
	t.Logf("%s: %s", what, strings.TrimSpace(r.stderr))
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], part) {
		t.Errorf("%s: want exit 1 and one line naming %s: %s", what, part, r)
	}
}

func TestSplitRefusesTinyParts(t *testing.T) {
	_, recipient := keygen(t)
	for _, args := range [][]string{
		{"seal", t.TempDir(), "--recipient", recipient, "--out", t.TempDir(), "--split", "512KiB"},
		{"gather", "--profile", "none", "--spec", writeSpec(t, okSpec), "--out", t.TempDir(), "--split", "25MiB"},
		{"upload", "--to", "file://" + t.TempDir(), "--split", "1000000", "x.tar.zst.age"},
	} {
		if r := runDump(t, t.TempDir(), nil, args...); r.code != 2 || !strings.Contains(r.stderr, "--split") {
			t.Errorf("%v: want a usage error about --split: %s", args, r)
		}
	}
}

// A split dump opens from local files, with dump and with stock tools; a
// missing and a damaged part are each named in one line.
func TestSplitLocal(t *testing.T) {
	s := sealRandomTree(t, true)
	info, err := layout.ReadInfoFile(s.files.Info)
	if err != nil {
		t.Fatal(err)
	}
	if info.Parts != 3 || len(info.PayloadParts) != 3 {
		t.Fatalf("info lists %d parts (%d), want 3", info.Parts, len(info.PayloadParts))
	}
	for i, p := range info.PayloadParts {
		fi, err := os.Stat(s.files.Part(i + 1))
		if err != nil || fi.Size() != p.Size || p.Size > 1<<20 || hex.EncodeToString([]byte(fileSHA(t, s.files.Part(i+1)))) != p.SHA256 {
			t.Errorf("part %d: %v %v, info %+v; want at most 1 MiB and as listed", i+1, fi, err, p)
		}
	}
	if _, err := os.Stat(s.files.Payload); err == nil {
		t.Errorf("a split dump also left the whole payload")
	}

	s.checkTree(t, s.decrypt(t, nil, "--file", s.files.Part(1)))
	listing := sh(t, "cd "+s.out+" && age -d -i "+s.identity+" dump-"+s.id+".key.age > s.key && cat dump-"+s.id+".tar.zst.age.* | age -d -i s.key | zstd -d | tar -t")
	if !strings.Contains(listing, layout.MemberPrefix(s.id)+"system/random.bin") {
		t.Errorf("stock tools list:\n%s", listing)
	}

	part2 := s.files.Part(2)
	data, err := os.ReadFile(part2)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(part2, data, 0o600); err != nil {
		t.Fatal(err)
	}
	oneLineNaming(t, "a damaged part", s.decrypt(t, nil, "--file", s.files.Part(1)), filepath.Base(part2))
	os.Remove(part2)
	oneLineNaming(t, "a missing part", s.decrypt(t, nil, "--file", s.files.Part(1)), filepath.Base(part2))
}

// `dump upload --split` splits a dump sealed whole; support decrypts it
// from the file:// store, and is told which part is missing or damaged.
func TestSplitUploadFileStore(t *testing.T) {
	s := sealRandomTree(t, false)
	bucketDir := t.TempDir()
	bucket := "file://" + bucketDir
	r := runDump(t, t.TempDir(), nil, "upload", "--to", bucket, "--split", "1MiB", s.files.Payload)
	if r.code != 0 || r.lastLine() != s.id {
		t.Fatalf("upload --split: %s", r)
	}
	s.checkTree(t, s.decrypt(t, nil, "--from", bucket, s.id))

	part := func(n int) string {
		return filepath.Join(bucketDir, filepath.FromSlash(layout.Object(s.id, layout.PayloadObject+layout.PartSuffix(n))))
	}
	data, err := os.ReadFile(part(3))
	if err != nil {
		t.Fatal(err)
	}
	data[10] ^= 1
	if err := os.WriteFile(part(3), data, 0o600); err != nil {
		t.Fatal(err)
	}
	oneLineNaming(t, "a damaged object", s.decrypt(t, nil, "--from", bucket, s.id), layout.PayloadObject+layout.PartSuffix(3))
	os.Remove(part(2))
	oneLineNaming(t, "a missing object", s.decrypt(t, nil, "--from", bucket, s.id), layout.PayloadObject+layout.PartSuffix(2))
}

// A split dump goes through S3 (MinIO) and GCS (the emulator) part by part.
func TestSplitCloudStores(t *testing.T) {
	s := sealRandomTree(t, true)
	t.Run("s3", func(t *testing.T) {
		srv := miniotest.Start(t)
		srv.MakeBucket(t, "support")
		env := srv.Env()
		if r := runDump(t, t.TempDir(), env, "upload", "--to", "s3://support/dumps", s.files.Part(1)); r.code != 0 {
			t.Fatalf("upload to s3: %s", r)
		}
		s.checkTree(t, s.decrypt(t, env, "--from", "s3://support/dumps", s.id[:8]))
	})
	t.Run("gs", func(t *testing.T) {
		gstest.Start(t, "support-dumps")
		env := []string{"STORAGE_EMULATOR_HOST=" + os.Getenv("STORAGE_EMULATOR_HOST")}
		if r := runDump(t, t.TempDir(), env, "upload", "--to", "gs://support-dumps/acme", s.files.Part(1)); r.code != 0 {
			t.Fatalf("upload to gs: %s", r)
		}
		s.checkTree(t, s.decrypt(t, env, "--from", "gs://support-dumps/acme", s.id[:8]))
	})
}
