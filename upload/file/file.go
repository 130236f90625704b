// Package file is the upload.Store for a local or mounted directory
// (file:///srv/dumps). Objects are plain files; a Put writes a hidden temporary
// file and links it into place, so a name never shows a half-written object and
// an existing object is never replaced.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dumptool/dump/upload"
)

const tempPrefix = ".tmp-"

// Store keeps objects under a root directory.
type Store struct {
	root string
}

// New returns a store rooted at dir, creating it (0700) if needed.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("file store %s: %w", dir, err)
	}
	return &Store{root: abs}, nil
}

func (s *Store) String() string { return "file://" + filepath.ToSlash(s.root) }

// path maps an object name to a file, refusing names that would leave the root.
func (s *Store) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, tempPrefix) {
			return "", fmt.Errorf("invalid object name %q", name)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(name)), nil
}

func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	dst, err := s.path(name)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("put %s: %w", name, upload.ErrExists)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, upload.ContextReader(ctx, r))
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	// link, unlike rename, fails when the name exists: no object is ever replaced.
	if err := os.Link(tmp.Name(), dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put %s: %w", name, upload.ErrExists)
		}
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, notExist(err))
	}
	return f, nil
}

func (s *Store) GetRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	f, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f.(*os.File), offset, length), f}, nil
}

func (s *Store) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	p, err := s.path(name)
	if err != nil {
		return upload.ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return upload.ObjectInfo{}, fmt.Errorf("stat %s: %w", name, notExist(err))
	}
	if !fi.Mode().IsRegular() {
		return upload.ObjectInfo{}, fmt.Errorf("stat %s: not a regular file: %w", name, upload.ErrNotExist)
	}
	return upload.ObjectInfo{Name: name, Size: fi.Size(), Modified: fi.ModTime().UTC()}, nil
}

func (s *Store) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	var out []upload.ObjectInfo
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, upload.ObjectInfo{Name: name, Size: fi.Size(), Modified: fi.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", upload.ErrNotExist, err)
	}
	return err
}
