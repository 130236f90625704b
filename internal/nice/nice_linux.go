package nice

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// From linux/ioprio.h.
const (
	ioprioWhoProcess = 1
	ioprioClassIdle  = 3
	ioprioClassShift = 13
)

// lower sets each thread: on Linux nice and I/O priority belong to threads,
// and new threads and children inherit them from the thread that makes them.
// The runtime may start a thread while we walk; walking until no thread is
// new catches it.
func lower() error {
	done := map[int]bool{}
	for range 10 {
		tids, err := threads()
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh++
			done[tid] = true
			if err := lowerThread(tid); err != nil {
				return err
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return nil
}

func lowerThread(tid int) error {
	err := unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
	if errors.Is(err, unix.ESRCH) {
		return nil // the thread has exited
	}
	if err != nil {
		return fmt.Errorf("lower CPU priority: %w", err)
	}
	_, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioClassIdle<<ioprioClassShift)
	if e != 0 && e != unix.ESRCH {
		return fmt.Errorf("lower I/O priority: %w", e)
	}
	return nil
}

func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("lower priority: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
