package decrypt

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// MaxFiles bounds the members that are not directories (files, and
	// anything skipped), and separately the directories: a dump that gather
	// filled up to [layout.MaxFiles] files always extracts.
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
	Files int   // regular files written
	Dirs  int   // directories created from directory members
	Bytes int64 // content written
	// Skipped counts the members not extracted; SkipSample describes the
	// first few as "member: reason", names made safe to print with
	// [layout.Quote]. A hostile archive cannot make either grow unbounded.
	Skipped    int
	SkipSample []string
	// Renamed counts files whose names held control characters, written
	// with those percent-encoded (ESC as %1B).
	Renamed int
}

// maxSkipSample bounds Stats.SkipSample.
const maxSkipSample = 20

// Bounds of a member's path below the target. They stop archives whose
// thousands of nested directories would each cost a walk of the whole path,
// and stay far above what a dump holds (and what Linux allows in one path).
const (
	maxDepth   = 128
	maxPathLen = 4096
)

// ErrEmpty is wrapped by Extract's error when the archive held no file to
// write, so that an empty extraction is never taken for a dump.
var ErrEmpty = errors.New("the archive holds no files to extract")

// drainLimit is how much may follow the tar end marker: padding, and the
// tail that must be read for the payload to be authenticated to its end.
const drainLimit = 1 << 20

// Extract safely unpacks the tar stream r into target, which must not exist.
//
// Members must lie under stripPrefix (e.g. "dump-<uuid>/"), which is removed.
// An archive whose first member is not under stripPrefix (one made with
// stock tools, `tar -c -C DIR .`) is extracted as it is. Only regular files and directories are written: files with O_EXCL and
// O_NOFOLLOW, mode 0600, directories 0700, all through an [os.Root] so that no
// name can leave the tree. Absolute names, names with a ".." element, names
// outside stripPrefix, symlinks, hardlinks (a dump has none, so none is ever
// made, not even as a copy), devices and fifos are skipped with a warning and
// counted in Stats. Names deeper than 128 directories or longer than 4096
// bytes are skipped too. Exceeding limits is an error, not a truncation, and
// so is an archive without a single file ([ErrEmpty]).
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
	root, err := os.OpenRoot(partial)
	if err == nil {
		x.root = newDirRef(root)
		x.w = newFileWriters()
		err = x.run(ctx, r)
		// The tree is complete only once every writer is done with it.
		if werr := x.w.wait(); err == nil {
			err = werr
		}
		x.closeDirs(0)
		x.root.release()
	}
	if err == nil && x.st.Files == 0 {
		err = fmt.Errorf("%w (%d members skipped); it is not a dump", ErrEmpty, x.st.Skipped)
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
	root    *dirRef
	prefix  string // cleaned, without trailing slash; "" extracts everything
	decided bool   // whether the archive was seen to use prefix
	limits  Limits
	members int   // non-directory members seen, for the limit
	dirs    int   // directory members seen, for the limit
	bytes   int64 // content of all members seen, for the limit
	st      Stats
	w       *fileWriters

	// The directories down to the last one used, kept open: members come
	// grouped by directory, so each costs an open or two instead of a walk
	// of its whole path. openDirs[i] is the directory openNames[:i+1].
	openNames []string
	openDirs  []*dirRef
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
		if err := x.w.failure(); err != nil {
			return err
		}
		rel, reason := x.member(hdr.Name)
		if reason == "" && rel == "" {
			continue // the prefix directories themselves
		}
		if reason == "" {
			reason, err = x.write(tr, hdr, rel)
			if werr := x.w.failure(); werr != nil {
				return werr // what made the extraction stop
			}
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
	n, what := &x.members, "files"
	if hdr.Typeflag == tar.TypeDir {
		n, what = &x.dirs, "directories"
	}
	if *n++; *n > x.limits.MaxFiles {
		return fmt.Errorf("%w: more than %d %s; raise --max-files if you trust this dump", ErrLimit, x.limits.MaxFiles, what)
	}
	if hdr.Size < 0 || hdr.Size > x.limits.MaxBytes-x.bytes {
		return fmt.Errorf("%w: more than %d bytes (member %s is %d bytes); raise --max-bytes if you trust this dump", ErrLimit, x.limits.MaxBytes, layout.Quote(hdr.Name), hdr.Size)
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
	case len(name) > maxPathLen:
		return "", fmt.Sprintf("name longer than %d bytes", maxPathLen)
	case strings.Count(name, "/") > maxDepth:
		return "", fmt.Sprintf("nested more than %d directories deep", maxDepth)
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
	if !x.decided && name != "." {
		// Ours start with the prefix directory; a stock-made archive of
		// the tree has none, and is taken as it is.
		x.decided = true
		if x.prefix != "" && name != x.prefix && !strings.HasPrefix(name, x.prefix+"/") {
			x.prefix = ""
		}
	}
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

// escapeControls percent-encodes control characters (C0, DEL, C1), so that
// no file name on disk can drive the terminal of whoever lists it.
func escapeControls(name string) string {
	if strings.IndexFunc(name, isControl) < 0 {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		if !isControl(r) {
			b.WriteRune(r)
			continue
		}
		for _, c := range []byte(string(r)) {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// write creates one member, or returns why it was skipped.
func (x *extractor) write(tr *tar.Reader, hdr *tar.Header, rel string) (reason string, err error) {
	if safe := escapeControls(rel); safe != rel {
		rel = safe
		if hdr.Typeflag == tar.TypeReg {
			x.st.Renamed++
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if _, err := x.openDir(rel); err != nil {
			return "", err
		}
		x.st.Dirs++
		return "", nil
	case tar.TypeReg:
		return x.writeFile(tr, hdr, rel)
	case tar.TypeSymlink:
		return "symlink to " + layout.Quote(hdr.Linkname) + " (a dump has none; not created)", nil
	case tar.TypeLink:
		return "hardlink to " + layout.Quote(hdr.Linkname) + " (a dump has none; not created)", nil
	case tar.TypeChar, tar.TypeBlock:
		return "device file", nil
	case tar.TypeFifo:
		return "fifo", nil
	default:
		return fmt.Sprintf("unsupported member type %q", hdr.Typeflag), nil
	}
}

func (x *extractor) writeFile(tr *tar.Reader, hdr *tar.Header, rel string) (reason string, err error) {
	dirName, base := path.Split(rel)
	dir, err := x.openDir(path.Clean(dirName))
	if err != nil {
		return "", err
	}
	f, err := dir.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "duplicate member (the first one is kept)", nil
	}
	if err != nil {
		return "", err
	}
	pf := &pendingFile{f: f, dir: dir.hold(), base: base, rel: rel, mtime: hdr.ModTime}
	q := x.w.assign()
	defer func() { q <- writeOp{file: pf} }() // closes the file, even after an error
	for x.w.failure() == nil {
		buf := x.w.buffer()
		n, err := fill(tr, buf)
		if n > 0 {
			q <- writeOp{file: pf, data: buf[:n]}
			x.st.Bytes += int64(n)
		} else {
			x.w.free <- buf
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	x.st.Files++ // a write error fails the extraction anyway
	return "", nil
}

// fill reads into buf until it is full or r ends (io.EOF).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// openDir makes the directory name ("." for the top) and returns it open.
// Only the components below what it shares with the last directory opened
// are made and opened.
func (x *extractor) openDir(name string) (*dirRef, error) {
	var elems []string
	if name != "." {
		elems = strings.Split(name, "/")
	}
	keep := 0
	for keep < len(x.openNames) && keep < len(elems) && x.openNames[keep] == elems[keep] {
		keep++
	}
	x.closeDirs(keep)
	for _, elem := range elems[keep:] {
		parent := x.top()
		if err := parent.Mkdir(elem, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		dir, err := parent.OpenRoot(elem)
		if err != nil {
			return nil, err
		}
		x.openNames, x.openDirs = append(x.openNames, elem), append(x.openDirs, newDirRef(dir))
	}
	return x.top(), nil
}

func (x *extractor) top() *dirRef {
	if len(x.openDirs) == 0 {
		return x.root
	}
	return x.openDirs[len(x.openDirs)-1]
}

// closeDirs closes the open directories below the first keep.
func (x *extractor) closeDirs(keep int) {
	for _, d := range x.openDirs[keep:] {
		d.release()
	}
	x.openNames, x.openDirs = x.openNames[:keep], x.openDirs[:keep]
}

// skip counts a member not extracted and describes the first few.
func (x *extractor) skip(name, reason string) {
	x.st.Skipped++
	if len(x.st.SkipSample) < maxSkipSample {
		x.st.SkipSample = append(x.st.SkipSample, layout.Quote(name)+": "+reason)
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
