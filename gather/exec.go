package gather

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// killGrace is how long a command gets between SIGTERM and SIGKILL once its
// deadline passed; pipeGrace how long we keep reading its pipes after it
// exited (a child that escaped the process group may still hold them).
var (
	killGrace = 2 * time.Second
	pipeGrace = 2 * time.Second
)

// proc is how a command ended.
type proc struct {
	exitCode int   // -1 when it did not exit normally (killed, or not started)
	err      error // start error, or a signal; nil for a normal exit with any code
	timedOut bool  // its context ended before it did, and it was killed
	pgid     int   // its process group (= its pid), for tests
}

// runProcess runs argv (argv[0] resolved to path) in its own process group with
// env, handing its stdout and stderr to the two consumers, which must read
// until EOF or error. When ctx ends the whole group gets SIGTERM and, after
// killGrace, SIGKILL. Whatever the consumers read before that is theirs to keep.
func runProcess(ctx context.Context, path string, argv, env []string, stdout, stderr func(io.Reader) error) (p proc, consumeErr error) {
	p.exitCode = -1
	grace := killGrace // read once: the kill goroutine may outlive this call
	outR, outW, err := os.Pipe()
	if err != nil {
		p.err = fmt.Errorf("make pipe: %w", err)
		return p, nil
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		p.err = fmt.Errorf("make pipe: %w", err)
		return p, nil
	}
	defer outR.Close()
	defer errR.Close()

	cmd := exec.CommandContext(ctx, path)
	cmd.Args = argv
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdout = outW // *os.File: the child writes straight into our pipe, Wait never waits on a copy
	cmd.Stderr = errW
	setProcessGroup(cmd)

	exited := make(chan struct{})
	var canceled atomic.Bool
	cmd.Cancel = func() error {
		canceled.Store(true)
		signalGroup(cmd.Process.Pid, false)
		go func() {
			select {
			case <-time.After(grace):
				signalGroup(cmd.Process.Pid, true)
			case <-exited:
			}
		}()
		return nil
	}
	// Should the group ignore even SIGKILL's aftermath (it cannot, but a
	// stuck exit in D state can), Wait still returns after this.
	cmd.WaitDelay = grace + time.Second

	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		p.err = err
		return p, nil
	}
	p.pgid = cmd.Process.Pid

	var wg sync.WaitGroup
	var mu sync.Mutex
	consume := func(r *os.File, fn func(io.Reader) error) {
		defer wg.Done()
		if err := fn(r); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			mu.Lock()
			consumeErr = errors.Join(consumeErr, err)
			mu.Unlock()
		}
		io.Copy(io.Discard, r) // never leave the child blocked on a full pipe
	}
	wg.Add(2)
	go consume(outR, stdout)
	go consume(errR, stderr)

	werr := cmd.Wait()
	close(exited)
	// Background children of a command that exited must not outlive it.
	signalGroup(p.pgid, true)
	outR.SetReadDeadline(time.Now().Add(pipeGrace))
	errR.SetReadDeadline(time.Now().Add(pipeGrace))
	wg.Wait()

	p.timedOut = canceled.Load()
	if cmd.ProcessState != nil {
		p.exitCode = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) && !p.timedOut {
		p.err = werr
	} else if exitErr != nil && p.exitCode < 0 && !p.timedOut {
		p.err = fmt.Errorf("killed: %s", cmd.ProcessState)
	}
	return p, consumeErr
}

// errNotFound is returned by lookPath for a command that is not installed.
var errNotFound = errors.New("not found in PATH")

// lookPath finds an executable in the child's PATH (not ours: exec.Command
// would search the parent's).
func lookPath(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		if err := isExecutable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", errNotFound
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errNotFound
		}
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// childEnv is the whole environment of every command: enough to run, nothing
// of ours (no cloud credentials, no DUMP_* secrets).
func childEnv(sysroot string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if !strings.Contains(":"+path+":", ":"+d+":") {
			path += ":" + d // ip, ss, iptables-save, sysctl live here
		}
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/"
	}
	env := []string{
		"PATH=" + path, "HOME=" + home, "LANG=C", "LC_ALL=C", "TERM=dumb",
		"PAGER=cat", "SYSTEMD_PAGER=cat", "SYSTEMD_COLORS=0", "NO_COLOR=1",
	}
	if kc := os.Getenv("KUBECONFIG"); kc != "" {
		env = append(env, "KUBECONFIG="+kc) // a path, and kubectl needs it
	}
	if sysroot != "/" {
		env = append(env, "DUMP_SYSROOT="+sysroot)
	}
	return env
}

func envPath(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			return v
		}
	}
	return ""
}

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
