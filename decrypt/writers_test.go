package decrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// body is distinct content of n bytes for file i, so that chunks written
// to the wrong file or out of order show.
func body(i, n int) string {
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, "file %d offset %d\n", i, b.Len())
	}
	return b.String()[:n]
}

// Files bigger than all the chunk buffers together, small ones between
// them, many more files than writers: every file must hold exactly its own
// content, with its mtime, whatever writer wrote it.
func TestExtractConcurrentWritesKeepEachFileWhole(t *testing.T) {
	_, target := sandbox(t)
	mtime := time.Date(2026, 11, 3, 4, 5, 6, 0, time.UTC)
	sizes := []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, numChunks*chunkSize + 12345, 3000, 7, 2 * numChunks * chunkSize}
	var members []member
	want := map[string]string{}
	for i := range 40 {
		n := sizes[i%len(sizes)]
		name := fmt.Sprintf("d%d/f%02d.log", i%3, i)
		m := reg(prefix+name, body(i, n))
		m.hdr.ModTime = mtime
		members = append(members, m)
		want[name] = m.body
	}
	st, err := Extract(context.Background(), bytes.NewReader(makeTar(t, members...)), target, prefix, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for name, b := range want {
		p := filepath.Join(target, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != b {
			t.Errorf("%s: %d bytes (%v), want %d bytes of its own content", name, len(got), err, len(b))
		}
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v (%v), want %v", name, fi.ModTime(), err, mtime)
		}
		total += int64(len(b))
	}
	if st.Files != len(want) || st.Bytes != total {
		t.Errorf("stats = %d files, %d bytes; want %d, %d", st.Files, st.Bytes, len(want), total)
	}
}

// A name that appears twice keeps its first content, even when the first
// copy is still being written while the second is read.
func TestExtractDuplicateKeepsFirstWhileWriting(t *testing.T) {
	_, target := sandbox(t)
	first, second := body(1, 3*numChunks*chunkSize), body(2, 100)
	data := makeTar(t, reg(prefix+"a.log", first), reg(prefix+"b.log", "b"), reg(prefix+"a.log", second))
	st, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "a.log")); string(got) != first {
		t.Errorf("a.log holds %d bytes, want the first copy's %d", len(got), len(first))
	}
	if st.Files != 2 || st.Skipped != 1 || len(st.SkipSample) != 1 || !strings.Contains(st.SkipSample[0], "duplicate member") {
		t.Errorf("stats = %+v, want 2 files and the second a.log skipped as a duplicate", st)
	}
}

// failAfter returns its data, then err: a payload whose authentication
// fails in the middle, after big files were handed to the writers.
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestExtractErrorInTheMiddleLeavesNoTree(t *testing.T) {
	var members []member
	for i := range 12 {
		members = append(members, reg(fmt.Sprintf("%sf%d", prefix, i), body(i, numChunks*chunkSize/2)))
	}
	data := makeTar(t, members...)
	bad := errors.New("chunk 1234 failed authentication")
	for _, cut := range []int{len(data) / 3, len(data) / 2, len(data) - 2048} {
		base, target := sandbox(t)
		before := snapshot(t, base, target)
		_, err := Extract(context.Background(), &failAfter{bytes.NewReader(data[:cut]), bad}, target, prefix, Limits{})
		if !errors.Is(err, bad) {
			t.Fatalf("cut at %d: err = %v, want the read error", cut, err)
		}
		if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cut at %d: a tree is left at the target: %v", cut, err)
		}
		noPartial(t, filepath.Dir(target))
		// Nothing is written after Extract returned: the writers are done.
		time.Sleep(20 * time.Millisecond)
		after := snapshot(t, base, target)
		if len(after) != len(before) {
			t.Errorf("cut at %d: %d paths before, %d after", cut, len(before), len(after))
		}
	}
}

// A write that fails in a writer (a full disk) stops the extraction with
// that error, naming the file.
func TestFileWritersReportWriteError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ro")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := newDirRef(root)
	w := newFileWriters()
	pf := &pendingFile{f: f, dir: d.hold(), base: "ro", rel: "sub/ro"}
	q := w.assign()
	q <- writeOp{file: pf, data: append(w.buffer()[:0], "data"...)}
	q <- writeOp{file: pf}
	err = w.wait()
	d.release()
	if err == nil || !strings.Contains(err.Error(), "sub/ro") {
		t.Fatalf("err = %v, want the write error naming sub/ro", err)
	}
}
