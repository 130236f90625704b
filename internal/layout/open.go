package layout

import (
	"fmt"
	"os"
)

// OpenRegular opens one of a dump's local files for reading, refusing
// anything but a regular file. The open itself never blocks: a FIFO put in
// place of a dump's file would otherwise hang open(2) for good, beyond any
// deadline or signal.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNonBlock, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%s); a dump's files are plain files, copy them again", path, fi.Mode().Type())
	}
	return f, nil
}
