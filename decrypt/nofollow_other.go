//go:build !unix

package decrypt

// oNoFollow: no such flag here; O_EXCL and os.Root already refuse to follow
// a symlink when creating a file.
const oNoFollow = 0
