// Package sshfleet reaches the hosts of a cluster dump that Kubernetes does
// not schedule (Teleport agents on VMs, k3s servers) through the access the
// customer already uses: the OpenSSH client (`ssh`, honouring the user's ssh
// config) or Teleport's (`tsh ssh`). Nothing is installed on a host: the
// initiator's own dump binary (or, in a fleet of several architectures, the
// one of Fleet.Binaries built for the host's) is copied into a per-user
// cache there, ${XDG_CACHE_HOME:-~/.cache}/dump/bin/dump-<sha256>, only when
// that file is missing, and runs with the Job's arguments exactly as a node
// pod would:
//
//	f := &sshfleet.Fleet{Hosts: hosts, Transport: sshfleet.SSH, Concurrency: 10, NodeTimeout: 10 * time.Minute}
//	results, err := f.Run(ctx, []fleet.Job{{Node: hosts[0].Node(), Args: sign}})
//
// where sign makes the node's arguments ("gather", "--ticket", ...) when
// its turn comes, after the probe and the copy, right before the run.
//
// Each host costs at most three connections: a probe (is the binary there,
// is the host's OS and architecture the binary's), the copy when needed, and
// the run. A host that cannot be reached or refuses the login fails the
// probe: that node's Result.Err is a *gather.KindError of kind
// host_unreachable, and the other hosts go on.
package sshfleet

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fleet"
	"github.com/dumptool/dump/internal/human"
)

// Transport is the client a Fleet reaches its hosts with.
type Transport string

const (
	SSH Transport = "ssh" // OpenSSH's ssh, non-interactive (BatchMode)
	TSH Transport = "tsh" // Teleport's tsh ssh, with the user's tsh login
)

// ParseTransport reads --transport.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case SSH, TSH:
		return t, nil
	}
	return "", fmt.Errorf("%q: want ssh or tsh", s)
}

// Fleet is a list of hosts and how to reach them.
type Fleet struct {
	Hosts     []Host
	Transport Transport
	// SSHConfig, if set, is the ssh config file (ssh -F) instead of ~/.ssh/config.
	SSHConfig string
	// Sudo runs dump on the hosts through `sudo -n` (passwordless sudo),
	// for logins that are not root; the binary stays in the login's cache.
	Sudo bool
	// Binaries are the dump binaries that may be copied to the hosts, at
	// most one per architecture: each host gets the one built for its own
	// (read from their ELF headers; a binary that is not ELF suits any
	// host). Default: this executable.
	Binaries       []string
	Concurrency    int           // hosts at once; default 10
	NodeTimeout    time.Duration // per host, copy included; default 10m
	ConnectTimeout time.Duration // ssh's ConnectTimeout; default 15s
	// Progress, if set, hears a line per host as it starts, copies and ends.
	Progress func(format string, args ...any)
}

// Nodes names the hosts as nodes of the dump.
func (f *Fleet) Nodes() []string {
	names := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		names[i] = h.Node()
	}
	return names
}

// Run runs every job on the host of its node, at most Concurrency at once,
// and returns one result per job, in order. Its error is for the run as a
// whole (the binary cannot be read, ctx ended); a host that fails is only its
// Result.Err.
func (f *Fleet) Run(ctx context.Context, jobs []fleet.Job) ([]fleet.Result, error) {
	f.defaults()
	hosts := map[string]Host{}
	for _, h := range f.Hosts {
		hosts[h.Node()] = h
	}
	bins, err := readBinaries(f.Binaries)
	if err != nil {
		return nil, err
	}
	results := make([]fleet.Result, len(jobs))
	slots := make(chan struct{}, f.Concurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			results[i] = fleet.Result{Node: j.Node, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
			continue
		}
		h, ok := hosts[j.Node]
		if !ok {
			<-slots
			results[i] = fleet.Result{Node: j.Node, Err: fmt.Errorf("no host is node %s", j.Node)}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			start := time.Now()
			err := f.node(ctx, h, bins, j)
			results[i] = fleet.Result{Node: j.Node, Started: start, Took: time.Since(start), Err: err}
			took := time.Since(start).Round(100 * time.Millisecond)
			switch {
			case err != nil:
				f.Progress("node %s: %v", j.Node, err)
			case j.Stdout != nil:
				f.Progress("node %s: part received (%s)", j.Node, took)
			default:
				f.Progress("node %s: part uploaded (%s)", j.Node, took)
			}
		}()
	}
	wg.Wait()
	return results, ctx.Err()
}

func (f *Fleet) defaults() {
	if f.Transport == "" {
		f.Transport = SSH
	}
	if f.Concurrency <= 0 {
		f.Concurrency = 10
	}
	if f.NodeTimeout <= 0 {
		f.NodeTimeout = 10 * time.Minute
	}
	if f.ConnectTimeout <= 0 {
		f.ConnectTimeout = 15 * time.Second
	}
	if f.Progress == nil {
		f.Progress = func(string, ...any) {}
	}
}

// localBinary is a dump binary the hosts may run, named by its sha256.
type localBinary struct {
	path, sha256 string
	size         int64
	arch         string // GOARCH of a Linux ELF binary; "": not one, unchecked
}

// readBinaries reads the binaries of Fleet.Binaries.
func readBinaries(paths []string) ([]localBinary, error) {
	if len(paths) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the dump binary to copy to the hosts: %w", err)
		}
		paths = []string{self}
	}
	var bins []localBinary
	byArch := map[string]string{}
	for _, p := range paths {
		b, err := readBinary(p)
		if err != nil {
			return nil, err
		}
		if prev, dup := byArch[b.arch]; dup {
			return nil, fmt.Errorf("%s and %s are both for linux/%s: give one binary per architecture", prev, p, b.arch)
		}
		byArch[b.arch] = p
		bins = append(bins, b)
	}
	return bins, nil
}

func readBinary(path string) (localBinary, error) {
	file, err := os.Open(path)
	if err != nil {
		return localBinary{}, fmt.Errorf("read the dump binary to copy to the hosts: %w", err)
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, file)
	if err != nil {
		return localBinary{}, fmt.Errorf("read the dump binary to copy to the hosts: %w", err)
	}
	return localBinary{path: path, sha256: hex.EncodeToString(h.Sum(nil)), size: n, arch: elfArch(path)}, nil
}

// elfArch is the GOARCH an ELF binary is built for, "" for anything else.
func elfArch(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_PPC64:
		return "ppc64le"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_RISCV:
		return "riscv64"
	}
	return strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
}

// cacheDir is where each host keeps the binary: per user, never shared.
const cacheDir = `"${XDG_CACHE_HOME:-$HOME/.cache}/dump/bin"`

// node probes host h, copies the binary if it is missing there, and runs
// job j with it.
func (f *Fleet) node(ctx context.Context, h Host, bins []localBinary, j fleet.Job) error {
	ctx, cancel := context.WithTimeout(ctx, f.NodeTimeout)
	defer cancel()
	err := f.nodeSteps(ctx, h, bins, j)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &gather.KindError{Kind: gather.FailTimeout, Err: fmt.Errorf("timed out after %s (--node-timeout): %w", f.NodeTimeout, err)}
	}
	return err
}

func (f *Fleet) nodeSteps(ctx context.Context, h Host, bins []localBinary, j fleet.Job) error {
	bin, cached, err := f.probe(ctx, h, bins)
	if err != nil {
		return err
	}
	if !cached {
		f.Progress("node %s: copying dump (%s) to %s", j.Node, human.Bytes(bin.size), h)
		if err := f.copyBinary(ctx, h, bin); err != nil {
			return err
		}
	}
	args, err := j.Args(ctx)
	if err != nil {
		return err
	}
	f.Progress("node %s: running dump on %s", j.Node, h)
	dump := cacheDir + "/dump-" + bin.sha256
	if f.Sudo {
		dump = "sudo -n " + dump
	}
	for _, a := range args {
		dump += " " + shellQuote(a)
	}
	// Without a terminal, sshd signals nothing when the connection goes (a
	// deadline, Ctrl-C here): the session's stdin, which this side keeps
	// open and never writes, ends then, and the watcher stops dump.
	script := strings.Join([]string{
		"exec 3<&0",
		dump + " </dev/null &",
		"pid=$!",
		`( cat <&3 >/dev/null 2>&1; kill -TERM "$pid" 2>/dev/null ) >/dev/null 2>&1 &`,
		"watcher=$!",
		"exec 3<&-",
		`wait "$pid"`,
		"status=$?",
		`kill "$watcher" 2>/dev/null`,
		`exit "$status"`,
	}, "\n")
	var stderr tail
	cmd := f.command(ctx, h, script)
	cmd.Stdout, cmd.Stderr = j.Stdout, &stderr
	if _, err := cmd.StdinPipe(); err != nil { // closed by Wait
		return fmt.Errorf("run dump on %s: %w", h, err)
	}
	if err := run(cmd); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 255 && f.Transport == SSH {
			// ssh's own failure: the connection dropped after the probe.
			return &gather.KindError{Kind: gather.FailHostUnreachable, Err: fmt.Errorf("the connection to %s failed: %s", h, stderr.lastLines(2))}
		}
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return fmt.Errorf("dump exited with code %d on %s: %s", ee.ExitCode(), h, stderr.lastLines(3))
		}
		return fmt.Errorf("run dump on %s: %w: %s", h, err, stderr.lastLines(3))
	}
	return nil
}

// probe picks the binary for h's OS and architecture and says whether h
// has it cached. A failure of the probe means h cannot be reached (or
// refuses the login): the remote side runs nothing that can fail.
func (f *Fleet) probe(ctx context.Context, h Host, bins []localBinary) (_ localBinary, cached bool, err error) {
	script := "uname -sm"
	for _, b := range bins {
		script += "; if test -x " + cacheDir + "/dump-" + b.sha256 + "; then echo " + b.sha256 + "; fi"
	}
	var stdout strings.Builder
	var stderr tail
	cmd := f.command(ctx, h, script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := run(cmd); err != nil {
		if ctx.Err() != nil {
			return localBinary{}, false, fmt.Errorf("connect to %s: %w", h, err)
		}
		return localBinary{}, false, &gather.KindError{Kind: gather.FailHostUnreachable,
			Err: fmt.Errorf("host unreachable: %s %s: %s", f.Transport, h, stderr.lastLines(2))}
	}
	words := strings.Fields(stdout.String())
	if len(words) < 2 || len(words) > 2+len(bins) {
		return localBinary{}, false, fmt.Errorf("%s answered the probe with %q: its login shell prints something of its own", h, oneLine(stdout.String()))
	}
	os, arch := strings.ToLower(words[0]), goArch(words[1])
	bin, ok := pickBinary(bins, os, arch)
	if !ok {
		var have []string
		for _, b := range bins {
			have = append(have, b.path+" (linux/"+b.arch+")")
		}
		return localBinary{}, false, fmt.Errorf("%s is %s %s and no dump binary is built for it (%s): pass --node-binary with a dump built for %s/%s",
			h, words[0], words[1], strings.Join(have, ", "), os, arch)
	}
	for _, w := range words[2:] {
		cached = cached || w == bin.sha256
	}
	return bin, cached, nil
}

// pickBinary is the binary for a host of os and arch: the one built for
// it, or else one that is not ELF (a test's script).
func pickBinary(bins []localBinary, os, arch string) (localBinary, bool) {
	for _, b := range bins {
		if os == "linux" && b.arch == arch {
			return b, true
		}
	}
	for _, b := range bins {
		if b.arch == "" {
			return b, true
		}
	}
	return localBinary{}, false
}

// goArch maps uname -m to Go's GOARCH.
func goArch(machine string) string {
	switch machine {
	case "x86_64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i686":
		return "386"
	}
	if strings.HasPrefix(machine, "armv") {
		return "arm"
	}
	return machine // ppc64le, s390x, riscv64 are spelt alike
}

// copyBinary writes the binary into the host's cache under a temporary
// name, checks its size (and sha256 where sha256sum exists), and only then
// renames it into place, so a cut connection never leaves a half binary
// that a later run would take for the real one. Older versions go.
func (f *Fleet) copyBinary(ctx context.Context, h Host, bin localBinary) error {
	final := cacheDir + "/dump-" + bin.sha256
	script := strings.Join([]string{
		"set -e", "umask 077", "mkdir -p " + cacheDir,
		"t=" + cacheDir + "/.dump-" + bin.sha256 + ".$$", `trap 'rm -f "$t"' EXIT`,
		`cat > "$t"`,
		`n=$(wc -c < "$t")`,
		fmt.Sprintf(`if [ "$n" -ne %d ]; then echo "the copy has $n of %d bytes" >&2; exit 1; fi`, bin.size, bin.size),
		fmt.Sprintf(`if command -v sha256sum >/dev/null; then echo "%s  $t" | sha256sum -c --status || { echo "the copy's sha256 differs" >&2; exit 1; }; fi`, bin.sha256),
		`chmod 700 "$t"`,
		`mv -f "$t" ` + final,
		`for o in ` + cacheDir + `/dump-*; do [ "$o" = ` + final + ` ] || rm -f "$o"; done`,
	}, "\n")
	file, err := os.Open(bin.path)
	if err != nil {
		return fmt.Errorf("copy dump to %s: %w", h, err)
	}
	defer file.Close()
	var stderr tail
	cmd := f.command(ctx, h, script)
	cmd.Stdin, cmd.Stderr = file, &stderr
	if err := run(cmd); err != nil {
		return fmt.Errorf("copy dump to %s: %w: %s", h, err, stderr.lastLines(2))
	}
	return nil
}

// command runs script with sh on h: the remote login shell only hands the
// quoted script to sh, so csh or fish logins work too.
func (f *Fleet) command(ctx context.Context, h Host, script string) *exec.Cmd {
	var args []string
	switch f.Transport {
	case TSH:
		args = []string{"tsh", "ssh"}
	default:
		args = []string{"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(int(f.ConnectTimeout.Seconds()))}
		if f.SSHConfig != "" {
			args = append(args, "-F", f.SSHConfig)
		}
	}
	if h.Port != "" {
		args = append(args, "-p", h.Port)
	}
	if h.User != "" {
		args = append(args, "-l", h.User)
	}
	args = append(args, h.Addr, "sh -c "+shellQuote(script))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// A ControlMaster that ssh leaves running holds its stderr open: do
	// not wait for it once ssh itself has ended.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs cmd; a pipe held open by a process ssh left behind is not a failure.
func run(cmd *exec.Cmd) error {
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success() {
		return nil
	}
	return err
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tail keeps the last 4 KiB written to it: a remote command's stderr, for
// the message of its failure.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = t.buf[len(t.buf)-tailSize:]
	}
	return len(p), nil
}

// lastLines gives the last n non-empty lines on one line.
func (t *tail) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "(nothing on stderr)"
	}
	return oneLine(strings.Join(lines[max(0, len(lines)-n):], "; "))
}
