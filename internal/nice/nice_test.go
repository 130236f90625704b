//go:build linux

package nice

import (
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// After Lower, every thread and a child started afterwards run at nice 19 in
// the idle I/O class. (The test process stays lowered; nothing else in this
// package's tests cares.)
func TestLower(t *testing.T) {
	if err := Lower(); err != nil {
		t.Fatal(err)
	}
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		// getpriority returns 20-nice.
		if p, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && p != 1 {
			t.Errorf("thread %d: nice %d, want 19", tid, 20-p)
		}
		prio, _, _ := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
		if prio>>ioprioClassShift != ioprioClassIdle {
			t.Errorf("thread %d: I/O priority %#x, want the idle class", tid, prio)
		}
	}
	out, err := exec.Command("nice").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out))[0]; got != "19" {
		t.Errorf("a child runs at nice %s, want 19", got)
	}
	if path, err := exec.LookPath("ionice"); err == nil {
		out, err := exec.Command(path).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(out), "idle") {
			t.Errorf("a child's I/O class is %q, want idle", out)
		}
	}
}
