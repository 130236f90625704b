package gather

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dumptool/dump/gather/redact"
)

// KindCopy copies files, directories or globs of Paths (absolute, read under
// the sysroot) through the redactor into Output. One plain path (no glob) is
// copied to Output itself: a file as that file, a directory as that directory.
// Otherwise Output is a directory and each match goes under its base name,
// directories with their structure below it. With Since, files modified
// before --since are left out.
const KindCopy Kind = "copy"

// copyFiles makes a copy collector of absolute paths (globs allowed).
func copyFiles(category, output string, prio int, paths ...string) Collector {
	return Collector{Name: nameOf(output), Category: category, Kind: KindCopy, Paths: paths, Output: output, Priority: prio}
}

type copyKind struct{}

func (copyKind) validate(c *Collector) (string, error) {
	if len(c.Paths) == 0 {
		return "name", errors.New("a copy collector needs paths")
	}
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			return "paths", fmt.Errorf("path %q must be absolute (it is read under --sysroot)", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return "paths", fmt.Errorf("path %q: bad glob: %v", p, err)
		}
	}
	return "", nil
}

func (copyKind) describe(c Collector, env Env) string {
	s := strings.Join(c.Paths, " ")
	if env.Sysroot != "/" && env.Sysroot != "" {
		s += " (under " + env.Sysroot + ")"
	}
	if c.Since {
		s += " modified within --since"
	}
	return s
}

func (copyKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	res.Source = strings.Join(c.Paths, " ")
	limit := s.fileCap(c)
	var problems []string
	var problemKind FailureKind
	more := 0 // problems not listed
	problem := func(kind FailureKind, msg string) {
		if problemKind == "" || kind != FailOther {
			problemKind = kind
		}
		if len(problems) < maxProblemsListed {
			problems = append(problems, msg)
		} else {
			more++
		}
	}
	h, err := openHostFS(s.env.Sysroot)
	if err != nil {
		res.fail(ClassifyErr(err), err.Error())
		s.writeError(res, errorPath(c.Output), res.Error)
		return
	}
	defer h.Close()

	var matches []string // names in h
	for _, pat := range c.Paths {
		if hasGlobMeta(pat) {
			found, _ := fs.Glob(h, rel(pat)) // the only error is a bad pattern, checked by validate
			matches = append(matches, found...)
		} else if _, err := h.Stat(rel(pat)); err == nil {
			matches = append(matches, rel(pat))
		} else if !errors.Is(err, fs.ErrNotExist) {
			problem(ClassifyErr(err), pathErr(pat, err).Error())
		}
	}
	if len(matches) == 0 && len(problems) == 0 {
		msg := "nothing matches " + res.Source
		if s.env.Sysroot != "/" {
			msg += " under " + s.env.Sysroot
		}
		if c.Optional {
			res.skip(msg)
		} else {
			res.fail(FailOther, msg)
			s.writeError(res, errorPath(c.Output), msg)
		}
		return
	}

	single := len(c.Paths) == 1 && !hasGlobMeta(c.Paths[0]) && len(matches) == 1
	used := map[string]bool{}
	// copy copies one regular file, or lists it as left out once the tree is full.
	copy := func(name, dest string) {
		if s.treeFull() {
			s.drop(Dropped{Path: dest, Collector: c.Name, Action: "left out", Reason: errFileLimit.Error()})
			return
		}
		if err := s.copyFile(c, res, h, name, dest, limit); err != nil && !errors.Is(err, errFileLimit) {
			problem(ClassifyErr(err), err.Error())
		}
	}
	for _, m := range matches {
		if ctx.Err() != nil {
			res.fail(FailTimeout, "")
			break
		}
		host := "/" + m
		fi, err := h.Stat(m)
		if err != nil {
			problem(ClassifyErr(err), pathErr(host, err).Error())
			continue
		}
		if fi.Mode().IsRegular() {
			dest := c.Output
			if !single {
				dest = uniqueDest(used, c.Output, storedName(path.Base(m)), host)
			}
			copy(m, dest)
			continue
		}
		if !fi.IsDir() {
			res.skipFile(host, "not a regular file")
			continue
		}
		base := path.Base(m)
		if single {
			base = "" // copying one directory: its contents are the output
		}
		err = fs.WalkDir(h, m, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				problem(ClassifyErr(err), pathErr("/"+p, err).Error())
				return nil
			}
			if !d.Type().IsRegular() {
				return nil // directories are walked; links, sockets and devices are not data
			}
			sub := strings.TrimPrefix(p, m+"/")
			dest := uniqueDest(used, c.Output, path.Join(base, path.Dir(sub), storedName(path.Base(sub))), "/"+p)
			copy(p, dest)
			return nil
		})
		if err != nil && ctx.Err() != nil {
			res.fail(FailTimeout, "")
		}
	}
	if more > 0 {
		problems = append(problems, fmt.Sprintf("and %d more", more))
	}
	if res.skippedMore > 0 {
		res.Skipped = append(res.Skipped, SkippedFile{Path: "(not listed)", Reason: fmt.Sprintf("%d more files left out for the reasons above", res.skippedMore)})
	}
	if len(problems) > 0 {
		s.writeError(res, errorPath(c.Output), strings.Join(problems, "\n"))
		res.fail(problemKind, problems[0])
	}
}

// maxProblemsListed bounds the problems a copy lists in its .error file: a
// directory of unreadable files says it in the first ones.
const maxProblemsListed = 100

// skipFile lists a file left out, the first maxProblemsListed by name.
func (r *CollectorResult) skipFile(host, reason string) {
	if len(r.Skipped) < maxProblemsListed {
		r.Skipped = append(r.Skipped, SkippedFile{Path: host, Reason: reason})
	} else {
		r.skippedMore++
	}
}

// storedName is the name a copied file gets in the tree: gzip files are
// stored decompressed (redacted), without their ".gz".
func storedName(name string) string {
	if n := strings.TrimSuffix(name, ".gz"); n != "" {
		return n
	}
	return name
}

// gunzipFactor bounds what is decompressed of one gzip file, as a multiple
// of the file cap: the redactor reads all of it to keep the tail, and a small
// file can expand a thousandfold.
const gunzipFactor = 16

// copyFile copies one file of h into the tree through the redactor. Files
// that are nothing but secrets are not copied at all; files older than
// --since are left out for collectors that ask; gzip files are decompressed
// and redacted; other compressed or binary files, which the redactor cannot
// read, are left out and listed. A file over the cap is read from the line
// after (size - cap), so that only the tail is read, never the whole file.
func (s *runState) copyFile(c Collector, res *CollectorResult, h *hostFS, name, dest string, limit int64) error {
	host := "/" + name
	f, fi, err := h.openFile(name)
	if err != nil {
		if errors.Is(err, errNotRegular) {
			res.skipFile(host, "not a regular file")
			return nil
		}
		return pathErr(host, err)
	}
	defer f.Close()
	if c.Since && fi.ModTime().Before(s.since) {
		res.OlderFiles++
		return nil
	}
	head := make([]byte, 4096)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	size := fi.Size()
	var src io.Reader
	var offset int64
	cut := false
	binary := func(sample []byte) bool {
		if !isBinary(sample) {
			return false
		}
		res.skipFile(host, "binary: the redactor cannot read it")
		return true
	}
	switch format := compression(head); {
	case format == "gzip":
		gz, err := gzip.NewReader(io.NewSectionReader(f, 0, size))
		if err != nil {
			res.skipFile(host, "gzip file that cannot be read: "+err.Error())
			return nil
		}
		defer gz.Close()
		br := bufio.NewReaderSize(&capReader{r: gz, n: gunzipFactor * limit, hit: &cut}, 4096)
		head, _ = br.Peek(4096)
		if binary(head) {
			return nil
		}
		src = br
	case format != "":
		res.skipFile(host, format+" compressed: the redactor cannot read it")
		return nil
	case size == 0:
		br := bufio.NewReaderSize(io.LimitReader(f, maxProcFile), 4096) // /proc and /sys files report 0 and are small
		if sample, _ := br.Peek(4096); binary(sample) {
			return nil
		}
		src = br
	default:
		if size > limit {
			offset = lineStart(f, size-limit)
		}
		sample := make([]byte, 4096)
		n, _ := f.ReadAt(sample, offset)
		if binary(sample[:n]) {
			return nil
		}
		src = io.NewSectionReader(f, offset, size-offset) // a growing log stops where it was when we looked
	}
	if skip, reason := redact.SecretFile(host, head); skip {
		res.skipFile(host, reason)
		return nil
	}
	tb, err := s.stream(dest, src, limit)
	defer tb.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", host, err)
	}
	tb.cut = offset > 0 || cut
	if err := s.writeOutput(res, dest, tb, false); err != nil {
		return err
	}
	// Keep the source's mtime: support reads the tree by time.
	os.Chtimes(filepath.Join(s.dir, filepath.FromSlash(dest)), fi.ModTime(), fi.ModTime())
	return nil
}

// isBinary reports whether a sample of a file holds NUL bytes, leading ones
// aside: a log truncated in place (copytruncate) starts with a run of them.
func isBinary(sample []byte) bool {
	return bytes.IndexByte(bytes.TrimLeft(sample, "\x00"), 0) >= 0
}

// maxProcFile bounds a file that reports no size (/proc, /sys): the tail
// buffer caps what is kept, this what is read.
const maxProcFile = 64 << 20

// compression names the compressed format head starts with, or "".
func compression(head []byte) string {
	for _, m := range []struct{ name, magic string }{
		{"gzip", "\x1f\x8b"},
		{"zstd", "\x28\xb5\x2f\xfd"},
		{"xz", "\xfd7zXZ\x00"},
		{"bzip2", "BZh"},
		{"lz4", "\x04\x22\x4d\x18"},
		{"zip", "PK\x03\x04"},
	} {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return m.name
		}
	}
	return ""
}

// capReader reads at most n bytes of r and notes when it stopped early.
type capReader struct {
	r   io.Reader
	n   int64
	hit *bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		*c.hit = true
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// lineStart returns the offset of the first line that starts at or after off,
// looking at most 64 KiB ahead (a file without newlines is cut at off).
func lineStart(f *os.File, off int64) int64 {
	buf := make([]byte, 64<<10)
	n, _ := f.ReadAt(buf, off)
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		return off + int64(i) + 1
	}
	return off
}

// uniqueDest places name under dir, falling back to the source's full path
// when two sources share a name.
func uniqueDest(used map[string]bool, dir, name, host string) string {
	d := path.Join(dir, name)
	if used[d] {
		d = path.Join(dir, strings.TrimPrefix(host, "/"))
	}
	used[d] = true
	return d
}

func hasGlobMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// pathErr names a file error by the file's path on its host, not under the sysroot.
func pathErr(host string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", host, err)
}
