package decrypt

import (
	"archive/tar"
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

	"github.com/dumptool/dump/internal/layout"
)

// Names with terminal escapes are neither printed raw nor written to disk
// as they are.
func TestExtractEscapesControlCharacters(t *testing.T) {
	_, target := sandbox(t)
	data := makeTar(t, dir(prefix), reg(prefix+"bad\x1b[31m.txt", "x"), reg(prefix+"ok.txt", "fine"),
		link(tar.TypeSymlink, prefix+"\x1b]0;owned\a", "\x1b[2J"))
	st, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(target, "bad%1B[31m.txt")); err != nil || string(got) != "x" {
		t.Errorf("bad%%1B[31m.txt = %q, %v", got, err)
	}
	if st.Renamed != 1 || st.Skipped != 1 {
		t.Errorf("renamed %d, skipped %d; want 1 and 1", st.Renamed, st.Skipped)
	}
	for _, s := range st.SkipSample {
		if strings.ContainsAny(s, "\x1b\a") {
			t.Errorf("skip description holds raw control characters: %q", s)
		}
	}
	ents, _ := os.ReadDir(target)
	for _, e := range ents {
		if strings.ContainsAny(e.Name(), "\x1b\a") {
			t.Errorf("file name with raw control characters written: %q", e.Name())
		}
	}
}

// 1,000 symlinks with 1 MB names: counted, a bounded sample described.
func TestExtractSkipFloodIsBounded(t *testing.T) {
	_, target := sandbox(t)
	// One symlink member with a 1 MB name, repeated (tar.Writer takes
	// seconds per such header).
	long := makeTar(t, link(tar.TypeSymlink, prefix+strings.Repeat("n", 1_000_000), "/"))
	long = long[:len(long)-1024] // without the end marker
	end := makeTar(t, reg(prefix+"ok.txt", "fine"))
	pr, pw := io.Pipe()
	go func() {
		_, err := pw.Write(end[:len(end)-1024])
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = pw.Write(long)
		}
		if err == nil {
			_, err = pw.Write(end[len(end)-1024:])
		}
		pw.CloseWithError(err)
	}()
	st, err := Extract(context.Background(), pr, target, prefix, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	described := 0
	for _, s := range st.SkipSample {
		described += len(s)
	}
	if st.Skipped != 1000 || st.Files != 1 || described > 16<<10 {
		t.Errorf("skipped %d, files %d, %d bytes of descriptions; want 1000, 1 and at most 16 KiB", st.Skipped, st.Files, described)
	}
}

// 1,000 members nested 4,000 deep (5 KB compressed) are refused by their
// depth, not walked one component at a time each.
func TestExtractDeepNestingRefused(t *testing.T) {
	_, target := sandbox(t)
	deep := prefix + strings.Repeat("d/", 4000)
	ms := []member{reg(prefix+"ok.txt", "fine")}
	for i := range 1000 {
		ms = append(ms, reg(fmt.Sprintf("%sf%d", deep, i), "x"))
	}
	st, err := Extract(context.Background(), bytes.NewReader(makeTar(t, ms...)), target, prefix, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Skipped != 1000 || len(st.SkipSample) == 0 || !strings.Contains(st.SkipSample[0], "longer than") {
		t.Errorf("files %d, skipped %d (%.200q); want 1 file and 1000 refused", st.Files, st.Skipped, st.SkipSample)
	}
	if _, err := os.Stat(filepath.Join(target, "d")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the deep directories were made: %v", err)
	}

	// Within the path length, the depth bound applies.
	_, target = sandbox(t)
	st, err = Extract(context.Background(), bytes.NewReader(makeTar(t, ms[0], reg(prefix+strings.Repeat("d/", maxDepth+1)+"f", "x"))), target, prefix, Limits{})
	if err != nil || st.Skipped != 1 || !strings.Contains(st.SkipSample[0], "deep") {
		t.Errorf("depth %d: %+v, %v; want it refused", maxDepth+1, st, err)
	}
}

// The member limit counts files, not directories: a dump that gather
// filled up to the limit still extracts.
func TestExtractLimitCountsFiles(t *testing.T) {
	_, target := sandbox(t)
	data := makeTar(t, dir(prefix), dir(prefix+"a/"), dir(prefix+"a/b/"), reg(prefix+"a/b/1", "1"), reg(prefix+"a/2", "2"), reg(prefix+"3", "3"))
	st, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{MaxFiles: 3})
	if err != nil || st.Files != 3 {
		t.Fatalf("3 files in 3 directories with MaxFiles 3: %+v, %v", st, err)
	}
	_, target = sandbox(t)
	data = makeTar(t, dir(prefix), reg(prefix+"1", "1"), reg(prefix+"2", "2"), reg(prefix+"3", "3"), reg(prefix+"4", "4"))
	if _, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{MaxFiles: 3}); !errors.Is(err, ErrLimit) {
		t.Fatalf("4 files with MaxFiles 3: err = %v, want ErrLimit", err)
	}
	if DefaultMaxFiles != layout.MaxFiles {
		t.Errorf("decrypt refuses at %d files, gather stops at %d", DefaultMaxFiles, layout.MaxFiles)
	}
}

// An archive made with stock tools (`tar -c -C DIR .`) has no dump-<uuid>/
// prefix: it is extracted as it is; one without any file is an error.
func TestExtractStockArchive(t *testing.T) {
	_, target := sandbox(t)
	data := makeTar(t, dir("./"), reg("./index.html", "<html>"), dir("./system/"), reg("./system/uname.txt", "Linux"))
	st, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{})
	if err != nil || st.Files != 2 {
		t.Fatalf("stock archive: %+v, %v", st, err)
	}
	if got, err := os.ReadFile(filepath.Join(target, "system", "uname.txt")); err != nil || string(got) != "Linux" {
		t.Errorf("system/uname.txt = %q, %v", got, err)
	}

	base, target := sandbox(t)
	data = makeTar(t, dir("./"), dir("./empty/"), link(tar.TypeSymlink, "./l", "/"))
	if _, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("archive without files: err = %v, want ErrEmpty", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an empty extraction left %s", target)
	}
	noPartial(t, filepath.Join(base, "out", "deep"))
}

// BenchmarkExtractNested extracts 1,000 files, each in a directory of its
// own 120 levels deep (under the depth bound): each costs its new
// directory, not a walk of the whole path.
func BenchmarkExtractNested(b *testing.B) {
	deep := prefix + strings.Repeat("d/", 120)
	ms := make([]member, 0, 1000)
	for i := range 1000 {
		ms = append(ms, reg(fmt.Sprintf("%s%d/f", deep, i), "x"))
	}
	data := makeTar(b, ms...)
	for b.Loop() {
		target := filepath.Join(b.TempDir(), "t")
		if _, err := Extract(context.Background(), bytes.NewReader(data), target, prefix, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
