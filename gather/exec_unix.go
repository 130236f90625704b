//go:build unix

package gather

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in a new process group led by itself, so
// that it and everything it starts can be signalled at once.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends SIGTERM (or SIGKILL) to every process of the group.
func signalGroup(pgid int, kill bool) {
	if pgid <= 0 {
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pgid, sig) // ESRCH: the group is already gone
}

// lowerPriority renices the group: support data can wait, the customer's
// workload cannot.
func lowerPriority(pgid int) {
	_ = syscall.Setpriority(syscall.PRIO_PGRP, pgid, 10)
}
