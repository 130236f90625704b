package crypto

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func unzstd(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestPackRoundTrip(t *testing.T) {
	tr := makeTree(t)
	var buf bytes.Buffer
	var lastProgress int64
	st, err := Pack(context.Background(), &buf, tr.dir, PackOptions{
		Prefix:   "dump-x/",
		Progress: func(n int64) { lastProgress = n },
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := readTar(t, bytes.NewReader(unzstd(t, buf.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, a, tr, "dump-x/")

	var content int64
	for _, d := range tr.files {
		content += int64(len(d))
	}
	if st.Files != len(tr.files) || st.Bytes != content || st.Compressed != int64(buf.Len()) {
		t.Errorf("stats = %+v, want files=%d bytes=%d compressed=%d", st, len(tr.files), content, buf.Len())
	}
	if lastProgress != content {
		t.Errorf("last progress = %d, want %d", lastProgress, content)
	}
	if bytes.Contains(unzstd(t, buf.Bytes()), []byte("must not be packed")) {
		t.Error("content behind a symlink out of the tree was packed")
	}
}

func TestPackDeterministic(t *testing.T) {
	tr := makeTree(t)
	var a, b bytes.Buffer
	for _, w := range []*bytes.Buffer{&a, &b} {
		if _, err := Pack(context.Background(), w, tr.dir, PackOptions{Prefix: "p/"}); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("packing the same tree twice gave different archives")
	}
}

func TestPackRejectsBadPrefix(t *testing.T) {
	for _, p := range []string{"../x/", "/abs/", "a/../b/", "./", `a\b/`} {
		_, err := Pack(context.Background(), &bytes.Buffer{}, t.TempDir(), PackOptions{Prefix: p})
		if err == nil || !strings.Contains(err.Error(), "invalid member prefix") {
			t.Errorf("prefix %q: err = %v, want invalid member prefix", p, err)
		}
	}
}

func TestPackCancel(t *testing.T) {
	tr := makeTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Pack(ctx, &bytes.Buffer{}, tr.dir, PackOptions{
		Progress: func(n int64) {
			if n > 1<<20 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPackFile(t *testing.T) {
	tr := makeTree(t)
	out := t.TempDir()
	path := filepath.Join(out, "dump-x.tar.zst")
	if _, err := PackFile(context.Background(), tr.dir, path, PackOptions{Prefix: "dump-x/"}); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("mode %o, want 600", m)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := readTar(t, bytes.NewReader(unzstd(t, data)))
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, a, tr, "dump-x/")

	_, err = PackFile(context.Background(), tr.dir, path, PackOptions{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second PackFile err = %v, want already exists", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	other := filepath.Join(out, "other.tar.zst")
	if _, err := PackFile(ctx, tr.dir, other, PackOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled PackFile err = %v", err)
	}
	if names := dirNames(t, out); len(names) != 1 {
		t.Errorf("after a failed PackFile the directory holds %v, want only dump-x.tar.zst", names)
	}
}

func TestPackWarnsAboutSkippedEntries(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	tr := makeTree(t)
	if _, err := Pack(context.Background(), io.Discard, tr.dir, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link-out", "linkdir", "fifo"} {
		if !strings.Contains(logs.String(), name) {
			t.Errorf("no warning about skipped %s in:\n%s", name, logs.String())
		}
	}
}
