package crypto

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
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// PackOptions tune [Pack]. The zero value is ready to use.
type PackOptions struct {
	// Prefix is put in front of every member name, e.g. "dump-<uuid>/".
	// It must be a relative slash-separated path without "." or "..".
	Prefix string
	// Level is the zstd level; zero means zstd.SpeedFastest, which on
	// dump-like text (logs, journal JSON, YAML) compresses as well as
	// zstd -3 at one and a half times the speed (see BENCHMARKS.md).
	Level zstd.EncoderLevel
	// Concurrency is the number of zstd encoders; zero means GOMAXPROCS,
	// capped at maxDefaultConcurrency to keep memory bounded.
	Concurrency int
	// Progress, if set, is called with the uncompressed bytes packed so far.
	Progress func(bytesIn int64)
}

// PackStats describe a finished pack.
type PackStats struct {
	Files      int   // regular files packed
	Bytes      int64 // their uncompressed content
	Compressed int64 // bytes written to the destination
}

// maxDefaultConcurrency bounds the default encoder count: every encoder
// costs its frames' buffers (see frameWriter), so on a big host GOMAXPROCS
// would cost memory for little gain on an I/O-bound dump.
const maxDefaultConcurrency = 4

// window is the zstd window, 2 MiB as zstd -3 uses: frames are 4 MiB, so a
// larger one would find little more.
const window = 2 << 20

const copyBufSize = 256 << 10

// Pack writes dir as a tar archive compressed with zstd to w.
//
// Only regular files and directories are packed; symlinks, devices, sockets
// and pipes are skipped with a warning, and symlinks are never followed.
// Members are written in lexical order with mode 0600 (files) or 0700
// (directories), uid/gid 0 and no user names, so the archive does not leak
// the packing host's accounts. Cancelling ctx stops packing.
func Pack(ctx context.Context, w io.Writer, dir string, opts PackOptions) (PackStats, error) {
	var st PackStats
	prefix, err := cleanPrefix(opts.Prefix)
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", dir, err)
	}
	// The root itself may be a symlink (e.g. /tmp on macOS); nothing below it is followed.
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return st, fmt.Errorf("pack %s: %w", dir, err)
	} else if !fi.IsDir() {
		return st, fmt.Errorf("pack %s: not a directory", dir)
	}

	cw := &countWriter{w: w}
	enc, n, err := newEncoder(opts)
	if err != nil {
		return st, fmt.Errorf("pack %s: zstd: %w", dir, err)
	}
	defer enc.Close()
	zw := newFrameWriter(cw, enc, n)
	p := &packer{
		ctx:      ctx,
		tw:       tar.NewWriter(zw),
		root:     root,
		prefix:   prefix,
		progress: opts.Progress,
		st:       &st,
		buf:      make([]byte, copyBufSize),
	}
	err = p.writePrefixDirs()
	if err == nil {
		err = filepath.WalkDir(root, p.visit)
	}
	if err == nil {
		err = p.tw.Close()
	}
	// Close also waits for the frames in flight, so it runs on errors too.
	if cerr := zw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("zstd: %w", cerr)
	}
	st.Compressed = cw.n
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", dir, err)
	}
	return st, nil
}

// newEncoder returns the zstd encoder of opts and its concurrency.
func newEncoder(opts PackOptions) (*zstd.Encoder, int, error) {
	level := opts.Level
	if level == 0 {
		level = zstd.SpeedFastest
	}
	n := opts.Concurrency
	if n <= 0 {
		n = min(runtime.GOMAXPROCS(0), maxDefaultConcurrency)
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(n),
		zstd.WithWindowSize(window),
		// age authenticates every byte already; zstd's checksum would
		// only cost an extra pass of xxhash.
		zstd.WithEncoderCRC(false))
	return enc, n, err
}

// cleanPrefix checks p and returns it with exactly one trailing slash.
func cleanPrefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	trimmed := strings.TrimSuffix(p, "/")
	if !fs.ValidPath(trimmed) || trimmed == "." || strings.Contains(trimmed, `\`) {
		return "", fmt.Errorf("invalid member prefix %q: want a relative path such as dump-<uuid>/", p)
	}
	return trimmed + "/", nil
}

// checkOutside refuses an output directory inside the tree being packed:
// the archive would try to contain itself.
func checkOutside(dir, out string) error {
	d, err1 := filepath.EvalSymlinks(dir)
	o, err2 := filepath.EvalSymlinks(out)
	if err1 != nil || err2 != nil {
		return nil // Pack and the file creation report these better
	}
	d, _ = filepath.Abs(d)
	o, _ = filepath.Abs(o)
	if rel, err := filepath.Rel(d, o); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("output directory %s is inside %s, the directory being packed; write it elsewhere", out, dir)
	}
	return nil
}

type packer struct {
	ctx      context.Context
	tw       *tar.Writer
	root     string
	prefix   string
	progress func(int64)
	st       *PackStats
	buf      []byte
}

// writePrefixDirs adds an entry for each element of the prefix, so that an
// extracting tar creates them 0700 rather than with its umask default.
func (p *packer) writePrefixDirs() error {
	if p.prefix == "" {
		return nil
	}
	fi, err := os.Stat(p.root)
	if err != nil {
		return err
	}
	elems := strings.Split(strings.TrimSuffix(p.prefix, "/"), "/")
	for i := range elems {
		name := path.Join(elems[:i+1]...) + "/"
		if err := p.writeDir(name, fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

func (p *packer) visit(file string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	rel, err := filepath.Rel(p.root, file)
	if err != nil {
		return err
	}
	if rel == "." {
		return nil
	}
	name := p.prefix + filepath.ToSlash(rel)
	switch {
	case d.IsDir():
		info, err := d.Info()
		if err != nil {
			return err
		}
		return p.writeDir(name+"/", info.ModTime())
	case d.Type().IsRegular():
		return p.writeFile(file, name)
	default:
		slog.Warn("pack: skipping entry that is not a regular file or directory", "path", file, "type", d.Type().String())
		return nil
	}
}

func (p *packer) writeDir(name string, mtime time.Time) error {
	return p.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir,
		Name:     name,
		Mode:     0o700,
		ModTime:  mtime.Truncate(time.Second),
	})
}

func (p *packer) writeFile(file, name string) error {
	f, err := openNoFollow(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// The entry may have been swapped for something else since the walk saw it.
	if !fi.Mode().IsRegular() {
		slog.Warn("pack: skipping entry that is no longer a regular file", "path", file)
		return nil
	}
	size := fi.Size()
	err = p.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o600,
		ModTime:  fi.ModTime().Truncate(time.Second),
	})
	if err != nil {
		return err
	}
	if err := p.copyContent(f, file, size); err != nil {
		return err
	}
	p.st.Files++
	return nil
}

// copyContent copies exactly size bytes: the header is already written, so a
// file that grows is cut at size and one that shrinks is padded with zeros.
func (p *packer) copyContent(f *os.File, file string, size int64) error {
	left := size
	for left > 0 {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(p.buf[:min(int64(len(p.buf)), left)])
		if n > 0 {
			if _, werr := p.tw.Write(p.buf[:n]); werr != nil {
				return werr
			}
			left -= int64(n)
			p.advance(int64(n))
		}
		if errors.Is(err, io.EOF) {
			slog.Warn("pack: file shrank while packing; padding with zeros", "path", file, "missing", left)
			return p.pad(left)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *packer) pad(left int64) error {
	clear(p.buf)
	for left > 0 {
		n := min(int64(len(p.buf)), left)
		if _, err := p.tw.Write(p.buf[:n]); err != nil {
			return err
		}
		left -= n
		p.advance(n)
	}
	return nil
}

func (p *packer) advance(n int64) {
	p.st.Bytes += n
	if p.progress != nil {
		p.progress(p.st.Bytes)
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
