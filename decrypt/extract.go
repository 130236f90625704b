package decrypt

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// Default limits of [Extract]; generous for a real dump, small enough to stop
// a decompression bomb before it fills the disk.
const (
	DefaultMaxBytes = 16 << 30
	DefaultMaxFiles = layout.MaxFiles
)

// ErrLimit is wrapped by Extract's error when the archive is larger than the
// limits allow.
var ErrLimit = errors.New("the dump is larger than the extraction limits")

// Limits bound what Extract accepts. Zero fields take the defaults.
type Limits struct {
	// MaxBytes bounds the content of all members, skipped ones included.
	MaxBytes int64
	// MaxFiles bounds the number of members of any type.
	MaxFiles int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// Stats describe a finished extraction.
type Stats struct {
	Files   int      // regular files written
	Dirs    int      // directories created from directory members
	Bytes   int64    // content written
	Skipped []string // "member: reason", one per member not extracted
}

// maxLoggedSkips bounds the warnings a hostile archive can print; every skip
// is still listed in Stats.Skipped.
const maxLoggedSkips = 20

// drainLimit is how much may follow the tar end marker: padding, and the
// tail that must be read for the payload to be authenticated to its end.
const drainLimit = 1 << 20

const copyBufSize = 256 << 10

// Extract safely unpacks the tar stream r into target, which must not exist.
//
// Members must lie under stripPrefix (e.g. "dump-<uuid>/"), which is removed.
// Only regular files and directories are written: files with O_EXCL and
// O_NOFOLLOW, mode 0600, directories 0700, all through an [os.Root] so that no
// name can leave the tree. Absolute names, names with a ".." element, names
// outside stripPrefix, symlinks, hardlinks (a dump has none, so none is ever
// made, not even as a copy), devices and fifos are skipped with a warning and
// listed in Stats.Skipped. Exceeding limits is an error, not a truncation.
//
// Extract writes into a hidden sibling "<parent>/.<base>.partial-<random>"
// and renames it to target only after the whole stream, including what
// follows the tar end marker, was read without error; on any error the
// partial directory is removed, so a half-extracted tree never looks
// complete.
func Extract(ctx context.Context, r io.Reader, target string, stripPrefix string, limits Limits) (Stats, error) {
	target = filepath.Clean(target)
	x := &extractor{limits: limits.withDefaults()}
	if p := strings.Trim(stripPrefix, "/"); p != "" {
		x.prefix = path.Clean(p)
	}
	if err := notExists(target); err != nil {
		return Stats{}, fmt.Errorf("extract: %w", err)
	}
	parent, base := filepath.Dir(target), filepath.Base(target)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Stats{}, fmt.Errorf("extract: %w", err)
	}
	partial, err := os.MkdirTemp(parent, "."+base+".partial-*") // 0700
	if err != nil {
		return Stats{}, fmt.Errorf("extract: %w", err)
	}
	x.root, err = os.OpenRoot(partial)
	if err == nil {
		err = x.run(ctx, r)
		if cerr := x.root.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		// A rename over an existing empty directory would succeed, and over
		// a non-empty one fails: check again so the message is clear.
		if err = notExists(target); err == nil {
			err = os.Rename(partial, target)
		}
	}
	if err != nil {
		os.RemoveAll(partial)
		return x.st, fmt.Errorf("extract to %s: %w", target, err)
	}
	return x.st, nil
}

func notExists(target string) error {
	_, err := os.Lstat(target)
	switch {
	case err == nil:
		return fmt.Errorf("%s already exists; remove it or choose another output directory", target)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}

type extractor struct {
	root    *os.Root
	prefix  string // cleaned, without trailing slash; "" extracts everything
	limits  Limits
	members int
	bytes   int64 // content of all members seen, for the limit
	st      Stats
	buf     []byte
}

func (x *extractor) run(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(upload.ContextReader(ctx, r))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if err := x.count(hdr); err != nil {
			return err
		}
		rel, reason := x.member(hdr.Name)
		if reason == "" && rel == "" {
			continue // the prefix directories themselves
		}
		if reason == "" {
			reason, err = x.write(tr, hdr, rel)
			if err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		}
		if reason != "" {
			x.skip(hdr.Name, reason)
		}
	}
	return drain(r)
}

// count enforces the limits before anything of the member is written.
func (x *extractor) count(hdr *tar.Header) error {
	x.members++
	if x.members > x.limits.MaxFiles {
		return fmt.Errorf("%w: more than %d members; raise --max-files if you trust this dump", ErrLimit, x.limits.MaxFiles)
	}
	if hdr.Size < 0 || hdr.Size > x.limits.MaxBytes-x.bytes {
		return fmt.Errorf("%w: more than %d bytes (member %q is %d bytes); raise --max-bytes if you trust this dump", ErrLimit, x.limits.MaxBytes, hdr.Name, hdr.Size)
	}
	x.bytes += hdr.Size
	return nil
}

// member maps an archive name to a path relative to the target. An empty
// rel with an empty reason means the name is the prefix or one of its
// parents, which need no action.
func (x *extractor) member(name string) (rel, reason string) {
	switch {
	case name == "":
		return "", "empty name"
	case strings.HasPrefix(name, "/"):
		return "", "absolute path"
	case strings.ContainsRune(name, 0):
		return "", "NUL in name"
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return "", "path with a .. element"
		}
	}
	name = path.Clean(name)
	if x.prefix != "" {
		switch {
		case strings.HasPrefix(x.prefix+"/", name+"/"), name == ".":
			return "", ""
		case !strings.HasPrefix(name, x.prefix+"/"):
			return "", "outside " + x.prefix + "/"
		}
		name = name[len(x.prefix)+1:]
	}
	if name == "." {
		return "", ""
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", "not a local path"
	}
	return name, ""
}

// write creates one member, or returns why it was skipped.
func (x *extractor) write(tr *tar.Reader, hdr *tar.Header, rel string) (reason string, err error) {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.root.MkdirAll(rel, 0o700); err != nil {
			return "", err
		}
		x.st.Dirs++
		return "", nil
	case tar.TypeReg:
		return x.writeFile(tr, hdr, rel)
	case tar.TypeSymlink:
		return "symlink to " + quote(hdr.Linkname) + " (a dump has none; not created)", nil
	case tar.TypeLink:
		return "hardlink to " + quote(hdr.Linkname) + " (a dump has none; not created)", nil
	case tar.TypeChar, tar.TypeBlock:
		return "device file", nil
	case tar.TypeFifo:
		return "fifo", nil
	default:
		return fmt.Sprintf("unsupported member type %q", hdr.Typeflag), nil
	}
}

func (x *extractor) writeFile(tr *tar.Reader, hdr *tar.Header, rel string) (reason string, err error) {
	if dir := path.Dir(rel); dir != "." {
		if err := x.root.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
	}
	f, err := x.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "duplicate member (the first one is kept)", nil
	}
	if err != nil {
		return "", err
	}
	if x.buf == nil {
		x.buf = make([]byte, copyBufSize)
	}
	// io.Copy would use f.ReadFrom, which does not take our buffer.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, tr, x.buf)
	x.st.Bytes += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	x.st.Files++
	if !hdr.ModTime.IsZero() {
		// Log mtimes help support; failing to set one is harmless.
		if err := x.root.Chtimes(rel, hdr.ModTime, hdr.ModTime); err != nil {
			slog.Debug("extract: cannot set mtime", "file", rel, "err", err)
		}
	}
	return "", nil
}

func (x *extractor) skip(name, reason string) {
	x.st.Skipped = append(x.st.Skipped, name+": "+reason)
	switch n := len(x.st.Skipped); {
	case n <= maxLoggedSkips:
		slog.Warn("extract: skipping archive member", "member", name, "reason", reason)
	case n == maxLoggedSkips+1:
		slog.Warn("extract: skipping more members; not logging each")
	}
}

// drain reads what follows the tar end marker, so that a payload reader
// reports a truncated or tampered end before the tree is declared complete.
func drain(r io.Reader) error {
	n, err := io.Copy(io.Discard, io.LimitReader(r, drainLimit+1))
	switch {
	case err != nil:
		return fmt.Errorf("read archive end: %w", err)
	case n > drainLimit:
		return fmt.Errorf("more than %d bytes after the end of the archive; it is not a dump", drainLimit)
	}
	return nil
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}
