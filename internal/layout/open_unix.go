//go:build unix

package layout

import "syscall"

// oNonBlock makes open(2) of a FIFO return at once; it has no effect on
// the regular files that OpenRegular goes on to read.
const oNonBlock = syscall.O_NONBLOCK
