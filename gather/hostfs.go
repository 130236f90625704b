package gather

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// hostFS is the file system of the host being gathered, as that host sees
// it. A mounted root (--sysroot) is untrusted input, so every path, and every
// symbolic link met on the way, is resolved inside it as a chroot would: an
// absolute link starts again at the sysroot and ".." stops there; os.Root
// refuses whatever would still lead out (a component swapped while we look).
// Only regular files are opened for reading: a FIFO blocks open(2) past every
// deadline and a device may never end. Every read is capped by its caller.
//
// hostFS is an fs.FS (with Stat and ReadDir), so fs.Glob and fs.WalkDir work
// on it; its names are slash-separated, relative to the root ("etc/hostname").
type hostFS struct {
	dir  string // the sysroot, "/" for the live host
	root *os.Root
}

// errNotRegular refuses FIFOs, sockets and devices.
var errNotRegular = errors.New("not a regular file")

// maxHostLinks bounds the symbolic links followed for one path, as the kernel does.
const maxHostLinks = 40

func openHostFS(dir string) (*hostFS, error) {
	if dir == "" {
		dir = "/"
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("sysroot: %w", err)
	}
	return &hostFS{dir: dir, root: r}, nil
}

func (h *hostFS) Close() error { return h.root.Close() }

// rel turns a host path ("/etc/hostname") into a name of h ("etc/hostname").
func rel(hostPath string) string {
	if r := strings.TrimPrefix(path.Clean("/"+hostPath), "/"); r != "" {
		return r
	}
	return "."
}

// resolve follows the symbolic links of name inside the root and returns a
// name without any; with follow false the last component is kept as it is.
func (h *hostFS) resolve(name string, follow bool) (string, error) {
	todo := strings.Split(name, "/")
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := path.Join(path.Join(done...), c)
		if len(todo) == 0 && !follow {
			done = append(done, c)
			break
		}
		fi, err := h.root.Lstat(p)
		if err != nil {
			return "", &fs.PathError{Op: "open", Path: name, Err: underlying(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > maxHostLinks {
			return "", &fs.PathError{Op: "open", Path: name, Err: syscall.ELOOP}
		}
		target, err := h.root.Readlink(p)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: name, Err: underlying(err)}
		}
		if path.IsAbs(target) {
			done = nil // as in a chroot: absolute targets start at the sysroot
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

func underlying(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Stat is fs.StatFS: the file name leads to, links followed inside the root.
func (h *hostFS) Stat(name string) (fs.FileInfo, error) {
	p, err := h.resolve(name, true)
	if err != nil {
		return nil, err
	}
	fi, err := h.root.Lstat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: underlying(err)}
	}
	return fi, nil
}

// Open is fs.FS: a directory, or a regular file (see openFile).
func (h *hostFS) Open(name string) (fs.File, error) {
	fi, err := h.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return h.openDir(name)
	}
	f, _, err := h.openFile(name)
	return f, err
}

// openFile opens a regular file for reading and returns it with its info.
// Anything else is refused before it is opened; O_NONBLOCK and the check
// after opening keep a FIFO swapped in meanwhile from blocking.
func (h *hostFS) openFile(name string) (*os.File, fs.FileInfo, error) {
	p, err := h.resolve(name, true)
	if err != nil {
		return nil, nil, err
	}
	before, err := h.root.Lstat(p)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: underlying(err)}
	}
	if !before.Mode().IsRegular() {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	f, err := h.root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: underlying(err)}
	}
	fi, err := f.Stat()
	if err == nil && (!fi.Mode().IsRegular() || !os.SameFile(before, fi)) {
		err = errNotRegular
	}
	if err != nil {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: underlying(err)}
	}
	return f, fi, nil
}

func (h *hostFS) openDir(name string) (*os.File, error) {
	p, err := h.resolve(name, true)
	if err != nil {
		return nil, err
	}
	f, err := h.root.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: underlying(err)}
	}
	return f, nil
}

// ReadDir is fs.ReadDirFS: the entries of a directory, sorted by name.
func (h *hostFS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := h.openDir(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	es, err := d.ReadDir(-1)
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return es, err
}

// readFile reads at most max bytes of a regular file.
func (h *hostFS) readFile(name string, max int64) ([]byte, error) {
	f, _, err := h.openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// maxHostRead caps what the tool reads of a host file for itself (hostname,
// ids, os-release, passwd, teleport.yaml): real ones are a few KiB.
const maxHostRead = 1 << 20

// readHostFile reads at most max bytes of the regular file at hostPath under
// sysroot.
func readHostFile(sysroot, hostPath string, max int64) ([]byte, error) {
	h, err := openHostFS(sysroot)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.readFile(rel(hostPath), max)
}

// statHost stats hostPath under sysroot, links followed inside it.
func statHost(sysroot, hostPath string) (fs.FileInfo, error) {
	h, err := openHostFS(sysroot)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Stat(rel(hostPath))
}

// globHost returns the host paths under sysroot that match pattern.
func globHost(sysroot, pattern string) []string {
	h, err := openHostFS(sysroot)
	if err != nil {
		return nil
	}
	defer h.Close()
	names, _ := fs.Glob(h, rel(pattern)) // the only error is a bad pattern
	for i, n := range names {
		names[i] = "/" + n
	}
	return names
}
