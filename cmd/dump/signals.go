package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// signalContext is canceled on Ctrl-C, SIGTERM, or when whoever reads our
// stdout or stderr goes away (an ssh session to a cluster node ended, a
// closed pipe): the run then stops and cleans up, where the runtime's
// default would kill it in the middle of a write and leave its temporary
// tree behind. Its cause names the signal. stop restores the defaults.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	go func() {
		for s := range sigs {
			// Once SIGPIPE is caught, a write to any broken pipe or socket
			// raises it; a network peer that went away fails that write
			// alone, and its retry or error handling decides.
			if s == syscall.SIGPIPE && !stdioGone() {
				continue
			}
			cancel(stoppedBy{s})
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel(context.Canceled)
	}
}

// stoppedBy is the cause of a run stopped by a signal.
type stoppedBy struct{ sig os.Signal }

func (s stoppedBy) Error() string {
	switch s.sig {
	case os.Interrupt:
		return "stopped by Ctrl-C (SIGINT)"
	case syscall.SIGPIPE:
		return "stopped: the reader of its output went away (SIGPIPE)"
	}
	return "stopped by " + unix.SignalName(s.sig.(syscall.Signal))
}

// whyStopped puts the signal that stopped the run in front of the error it
// ended with, which by itself only says "context canceled".
func whyStopped(ctx context.Context, err error) error {
	var s stoppedBy
	if err == nil || !errors.As(context.Cause(ctx), &s) {
		return err
	}
	if err.Error() == "" { // an exit code alone
		return fmt.Errorf("%w%w", s, err)
	}
	return fmt.Errorf("%w: %w", s, err)
}

// stdioGone reports whether the reader of stdout or stderr has gone: a
// pipe whose reader closed polls as an error, a socket as hung up.
func stdioGone() bool {
	fds := []unix.PollFd{{Fd: 1, Events: unix.POLLOUT}, {Fd: 2, Events: unix.POLLOUT}}
	if _, err := unix.Poll(fds, 0); err != nil {
		return false
	}
	for _, f := range fds {
		if f.Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return true
		}
	}
	return false
}
