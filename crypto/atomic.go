package crypto

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tempFile is a file written under a hidden temporary name next to its final
// name, so that readers never see a partial file under the final name.
type tempFile struct {
	*os.File
	final string
}

// createTemp creates a 0600 temporary file in the directory of final.
func createTemp(final string) (*tempFile, error) {
	f, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+".*.tmp")
	if err != nil {
		return nil, err
	}
	// CreateTemp already uses 0600; Chmod documents and enforces it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &tempFile{File: f, final: final}, nil
}

// finish flushes the temporary file to disk and closes it.
func (t *tempFile) finish() error {
	if err := t.Sync(); err != nil {
		t.Close()
		return err
	}
	return t.Close()
}

// discard closes and removes the temporary file; used on failure paths.
func (t *tempFile) discard() {
	t.Close()
	os.Remove(t.Name())
}

// commit moves the finished temporary file to its final name. It never
// replaces an existing file: a hard link fails atomically if the name is
// taken; where links are not supported it falls back to check-and-rename.
func (t *tempFile) commit() error {
	err := os.Link(t.Name(), t.final)
	switch {
	case err == nil:
		return os.Remove(t.Name())
	case errors.Is(err, fs.ErrExist):
		return existsError(t.final)
	}
	if _, err := os.Lstat(t.final); err == nil {
		return existsError(t.final)
	}
	return os.Rename(t.Name(), t.final)
}

func existsError(name string) error {
	return fmt.Errorf("%s already exists; remove it or choose another output directory", name)
}

// syncDir makes renames in dir durable; failures are not fatal because some
// filesystems do not support syncing a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
