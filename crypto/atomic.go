package crypto

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// tempFile is a file written under a hidden temporary name next to its final
// name (renameio), so that readers never see a partial file under the final
// name.
type tempFile struct {
	*renameio.PendingFile
	final string
}

// createTemp creates a 0600 temporary file in the directory of final.
func createTemp(final string) (*tempFile, error) {
	pf, err := renameio.NewPendingFile(final,
		renameio.WithTempDir(filepath.Dir(final)),
		renameio.WithStaticPermissions(0o600))
	if err != nil {
		return nil, err
	}
	return &tempFile{PendingFile: pf, final: final}, nil
}

// discard closes and removes the temporary file; a no-op once committed.
func (t *tempFile) discard() { t.Cleanup() }

// commit flushes the temporary file to disk and moves it to its final name.
// A dump's file is never replaced: renameio would, so the name is checked
// first (only a concurrent seal of the same uuid into the same directory
// could take it in between).
func (t *tempFile) commit() error {
	if _, err := os.Lstat(t.final); err == nil {
		return existsError(t.final)
	}
	return t.CloseAtomicallyReplace()
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
