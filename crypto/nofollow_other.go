//go:build !unix

package crypto

import (
	"fmt"
	"os"
)

// openNoFollow opens a file for reading and fails if name is no longer the
// regular file the walk saw (no O_NOFOLLOW here, so compare afterwards).
func openNoFollow(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	lfi, lerr := os.Lstat(name)
	fi, ferr := f.Stat()
	if lerr != nil || ferr != nil || !lfi.Mode().IsRegular() || !os.SameFile(lfi, fi) {
		f.Close()
		return nil, fmt.Errorf("%s changed while packing", name)
	}
	return f, nil
}
