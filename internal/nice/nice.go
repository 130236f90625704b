// Package nice makes dump a gentle guest on a struggling host: the process
// and every command it starts run at the lowest CPU priority (nice 19) and
// in the idle I/O class, as Rancher's log collector does with
// `nice -n 19 ionice -c 3`. Neither needs privileges.
package nice

// Lower moves the whole process, all its threads and its future children, to
// nice 19 and the idle I/O class. On systems without these it does nothing.
func Lower() error { return lower() }
