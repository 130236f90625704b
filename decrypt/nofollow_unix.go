//go:build unix

package decrypt

import "syscall"

// oNoFollow makes opening a name that is a symlink fail instead of following it.
const oNoFollow = syscall.O_NOFOLLOW
