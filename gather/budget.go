package gather

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/dumptool/dump/internal/human"
	"github.com/google/renameio/v2"
)

// minKeep is the smallest tail worth keeping when the budget cuts a file;
// below it the file is deleted instead.
const minKeep = 64 << 10

// enforceBudget brings the outputs under max bytes: lowest priority first,
// and within a priority the biggest file first, files are cut to their tail
// or deleted. The census and the error files are kept: they are small and say
// what happened. Every change is returned for the manifest.
func enforceBudget(dir string, tasks []*task, budget int64) []Dropped {
	type file struct {
		rel  string
		size int64
		t    *task
	}
	var files []file
	var total int64
	for _, t := range tasks {
		for _, rel := range t.res.Outputs {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil {
				continue
			}
			total += fi.Size()
			if t.c.Kind != KindCensus {
				files = append(files, file{rel, fi.Size(), t})
			}
		}
		if t.res.ErrorFile != "" {
			if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(t.res.ErrorFile))); err == nil {
				total += fi.Size()
			}
		}
	}
	if total <= budget {
		return nil
	}
	slices.SortStableFunc(files, func(a, b file) int {
		if a.t.c.Priority != b.t.c.Priority {
			return a.t.c.Priority - b.t.c.Priority
		}
		return int(min(max(b.size-a.size, -1), 1))
	})
	var dropped []Dropped
	reason := fmt.Sprintf("the dump was over --max-size (%s); lowest priority first", human.Bytes(budget))
	for _, f := range files {
		excess := total - budget
		if excess <= 0 {
			break
		}
		p := filepath.Join(dir, filepath.FromSlash(f.rel))
		if keep := f.size - excess; keep >= minKeep {
			if kept, err := keepTail(p, f.size, keep); err == nil {
				cut := f.size - kept // a little over excess: the tail starts at a line
				dropped = append(dropped, Dropped{Path: f.rel, Collector: f.t.c.Name, Bytes: cut, Action: "truncated", Reason: reason})
				f.t.res.Truncated = true
				f.t.res.Bytes -= cut
				total -= cut
				continue
			}
		}
		if err := os.Remove(p); err != nil {
			continue
		}
		dropped = append(dropped, Dropped{Path: f.rel, Collector: f.t.c.Name, Bytes: f.size, Action: "deleted", Reason: reason})
		f.t.res.Outputs = slices.DeleteFunc(f.t.res.Outputs, func(o string) bool { return o == f.rel })
		f.t.res.Bytes -= f.size
		total -= f.size
	}
	return dropped
}

// keepTail rewrites a file to at most its last keep bytes, starting at a
// line, keeping its modification time. It returns the size kept.
func keepTail(p string, size, keep int64) (int64, error) {
	src, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return 0, err
	}
	off := lineStart(src, size-keep)
	tmp, err := renameio.NewPendingFile(p, renameio.WithTempDir(filepath.Dir(p)), renameio.WithPermissions(0o600))
	if err != nil {
		return 0, err
	}
	defer tmp.Cleanup()
	if _, err := io.Copy(tmp, io.NewSectionReader(src, off, size-off)); err != nil {
		return 0, err
	}
	if err := os.Chtimes(tmp.Name(), fi.ModTime(), fi.ModTime()); err != nil {
		return 0, err
	}
	if err := tmp.CloseAtomicallyReplace(); err != nil {
		return 0, err
	}
	return size - off, nil
}
