package gather

import (
	"bytes"
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
	problem := func(kind FailureKind, msg string) {
		if problemKind == "" || kind != FailOther {
			problemKind = kind
		}
		problems = append(problems, msg)
	}

	type source struct{ fs, host string }
	var matches []source
	for _, pat := range c.Paths {
		full := filepath.Join(s.env.Sysroot, filepath.FromSlash(pat))
		var found []string
		if hasGlobMeta(pat) {
			found, _ = filepath.Glob(full) // the only error is a bad pattern, checked by the spec loader
		} else if _, err := os.Lstat(full); err == nil {
			found = []string{full}
		} else if !errors.Is(err, fs.ErrNotExist) {
			problem(classifyErr(err), pathErr(pat, err).Error())
		}
		for _, f := range found {
			matches = append(matches, source{fs: f, host: s.hostPath(f)})
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
	for _, m := range matches {
		if ctx.Err() != nil {
			res.fail(FailTimeout, "")
			break
		}
		real, err := resolveIn(s.env.Sysroot, m.fs)
		if err != nil {
			problem(classifyErr(err), fmt.Sprintf("%s: %v", m.host, err))
			continue
		}
		fi, err := os.Stat(real)
		if err != nil {
			problem(classifyErr(err), pathErr(m.host, err).Error())
			continue
		}
		if fi.Mode().IsRegular() {
			dest := c.Output
			if !single {
				dest = uniqueDest(used, c.Output, path.Base(filepath.ToSlash(m.host)), m.host)
			}
			if err := s.copyFile(c, res, real, m.host, fi, dest, limit); err != nil {
				problem(classifyErr(err), err.Error())
			}
			continue
		}
		if !fi.IsDir() {
			res.Skipped = append(res.Skipped, SkippedFile{Path: m.host, Reason: "not a regular file"})
			continue
		}
		base := path.Base(filepath.ToSlash(m.host))
		if single {
			base = "" // copying one directory: its contents are the output
		}
		err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			host := path.Join(m.host, filepath.ToSlash(strings.TrimPrefix(p, real)))
			if err != nil {
				problem(classifyErr(err), pathErr(host, err).Error())
				return nil
			}
			if !d.Type().IsRegular() {
				return nil // directories are walked; links, sockets and devices are not data
			}
			fi, err := d.Info()
			if err != nil {
				return nil // removed while we walked
			}
			rel, _ := filepath.Rel(real, p)
			dest := uniqueDest(used, c.Output, path.Join(base, filepath.ToSlash(rel)), host)
			if err := s.copyFile(c, res, p, host, fi, dest, limit); err != nil {
				problem(classifyErr(err), err.Error())
			}
			return nil
		})
		if err != nil && ctx.Err() != nil {
			res.fail(FailTimeout, "")
		}
	}
	if len(problems) > 0 {
		s.writeError(res, errorPath(c.Output), strings.Join(problems, "\n"))
		res.fail(problemKind, problems[0])
	}
}

// copyFile copies one file into the tree through the redactor. Files that are
// nothing but secrets are not copied at all; files older than --since are left
// out for collectors that ask; a file over the cap is read from the line after
// (size - cap) so that only the tail is read, never the whole file.
func (s *runState) copyFile(c Collector, res *CollectorResult, fsPath, host string, fi fs.FileInfo, dest string, limit int64) error {
	if c.Since && fi.ModTime().Before(s.since) {
		res.OlderFiles++
		return nil
	}
	f, err := os.Open(fsPath)
	if err != nil {
		return pathErr(host, err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.ReadAt(head, 0)
	if skip, reason := redact.SecretFile(host, head[:n]); skip {
		res.Skipped = append(res.Skipped, SkippedFile{Path: host, Reason: reason})
		return nil
	}
	size := fi.Size()
	var src io.Reader
	var offset int64
	switch {
	case size == 0:
		src = f // /proc and /sys files report 0 and are small; the cap still holds
	case size > limit:
		offset = lineStart(f, size-limit)
		src = io.NewSectionReader(f, offset, size-offset)
	default:
		src = io.NewSectionReader(f, 0, size) // a growing log stops where it was when we looked
	}
	tb, err := s.stream(dest, src, limit)
	if err != nil {
		return fmt.Errorf("%s: %w", host, err)
	}
	tb.cut = offset > 0
	if err := s.writeOutput(res, dest, tb, false); err != nil {
		return err
	}
	// Keep the source's mtime: support reads the tree by time.
	os.Chtimes(filepath.Join(s.dir, filepath.FromSlash(dest)), fi.ModTime(), fi.ModTime())
	return nil
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

// hostPath is how a file under the sysroot is named on its own host.
func (s *runState) hostPath(fsPath string) string {
	if s.env.Sysroot == "/" {
		return fsPath
	}
	rel, err := filepath.Rel(s.env.Sysroot, fsPath)
	if err != nil {
		return fsPath
	}
	return "/" + filepath.ToSlash(rel)
}

// resolveIn follows the symlinks of p the way they resolve on the host the
// sysroot came from: absolute targets are taken under root, and nothing may
// lead outside it.
func resolveIn(root, p string) (string, error) {
	if root == "/" {
		return p, nil
	}
	for range 40 {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil // errors show when the file is opened
		}
		t, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(t) {
			p = filepath.Join(root, t)
		} else {
			p = filepath.Join(filepath.Dir(p), t)
		}
		if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
			return "", errors.New("symbolic link leads outside the sysroot")
		}
	}
	return "", errors.New("too many levels of symbolic links")
}

// pathErr names a file error by the file's path on its host, not under the sysroot.
func pathErr(host string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", host, err)
}
