//go:build unix

package crypto

import (
	"os"
	"syscall"
)

// openNoFollow opens a file for reading, refusing to follow a symlink that
// replaced it after the walk looked at it.
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
