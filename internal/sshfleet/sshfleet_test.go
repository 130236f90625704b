package sshfleet

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fleet"
	"github.com/dumptool/dump/internal/sshtest"
)

// Against real sshd servers: the "binary" copied to the hosts is a shell
// script that prints its arguments and its host's DUMP_SYSROOT, or fails on
// demand, so what runs where can be seen.
const script = `#!/bin/sh
case "$1" in
fail) echo "first line" >&2; echo "gather: something broke" >&2; exit 4 ;;
sleep) echo $$ > "$PIDFILE"; exec sleep 30 ;;
esac
echo "args: $*"
echo "sysroot: $DUMP_SYSROOT"
echo "sudo: ${SUDO_USER:-no}"
`

func writeScript(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "dump")
	if err := os.WriteFile(p, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCopiesOnceAndRunsEverywhere(t *testing.T) {
	hosts := sshtest.Start(t, []sshtest.Host{
		{Alias: "alpha", Env: map[string]string{"DUMP_SYSROOT": "/roots/alpha"}},
		{Alias: "beta", Env: map[string]string{"DUMP_SYSROOT": "/roots/beta"}},
	}, "down")
	list, err := ParseHosts(strings.NewReader("alpha\nbeta, down\n"))
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	f := &Fleet{Hosts: list, SSHConfig: hosts.Config, Binaries: []string{writeScript(t, script)}, Concurrency: 2, NodeTimeout: time.Minute,
		Progress: func(format string, args ...any) { progress.WriteString(strings.TrimSpace(format) + "\n") }}
	var outA, outB, outDown bytes.Buffer
	jobs := []fleet.Job{
		{Node: "alpha", Args: fleet.Fixed("gather", "--stdout", "it's quoted"), Stdout: &outA},
		{Node: "beta", Args: fleet.Fixed("gather", "--stdout"), Stdout: &outB},
		{Node: "down", Args: fleet.Fixed("gather"), Stdout: &outDown},
	}
	results, err := f.Run(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Err != nil || results[1].Err != nil {
		t.Fatalf("reachable hosts failed: %v / %v", results[0].Err, results[1].Err)
	}
	if got := outA.String(); got != "args: gather --stdout it's quoted\nsysroot: /roots/alpha\nsudo: no\n" {
		t.Errorf("alpha's stdout = %q", got)
	}
	if got := outB.String(); !strings.Contains(got, "sysroot: /roots/beta") {
		t.Errorf("beta's stdout = %q: the job did not run on beta", got)
	}
	if results[2].Err == nil || gather.ClassifyErr(results[2].Err) != gather.FailHostUnreachable || !strings.Contains(results[2].Err.Error(), "refused") {
		t.Errorf("the unreachable host: %v, want host_unreachable saying the connection was refused", results[2].Err)
	}
	cached, err := filepath.Glob(filepath.Join(hosts.Cache["alpha"], "dump", "bin", "dump-*"))
	if err != nil || len(cached) != 1 {
		t.Fatalf("alpha's cache holds %v, want one dump-<sha256>", cached)
	}
	before, err := os.Stat(cached[0])
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(progress.String(), "copying dump"); c != 2 {
		t.Errorf("the binary was copied %d times, want once per reachable host:\n%s", c, progress.String())
	}

	// Again: the binary is already there, nothing is copied.
	progress.Reset()
	outA.Reset()
	results, err = f.Run(context.Background(), jobs[:1])
	if err != nil || results[0].Err != nil {
		t.Fatalf("second run: %v %v", err, results[0].Err)
	}
	if strings.Contains(progress.String(), "copying") {
		t.Errorf("the binary was copied again though its sha256 is unchanged:\n%s", progress.String())
	}
	after, err := os.Stat(cached[0])
	if err != nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the cached binary was replaced: %v", err)
	}

	// A new binary replaces the old one in the cache.
	f.Binaries = []string{writeScript(t, script+"# v2\n")}
	if results, err = f.Run(context.Background(), jobs[:1]); err != nil || results[0].Err != nil {
		t.Fatalf("run with a new binary: %v %v", err, results[0].Err)
	}
	now, _ := filepath.Glob(filepath.Join(hosts.Cache["alpha"], "dump", "bin", "*"))
	if len(now) != 1 || now[0] == cached[0] {
		t.Errorf("after a new binary the cache holds %v, want only the new one", now)
	}
}

func TestRunUserAndPort(t *testing.T) {
	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "alpha", Env: map[string]string{"DUMP_SYSROOT": "/roots/alpha"}}})
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHost(me.Username + "@127.0.0.1:" + strconv.Itoa(hosts.Ports["alpha"]))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	f := &Fleet{Hosts: []Host{h}, SSHConfig: hosts.Config, Binaries: []string{writeScript(t, script)}}
	results, err := f.Run(context.Background(), []fleet.Job{{Node: "127.0.0.1", Args: fleet.Fixed("gather"), Stdout: &out}})
	if err != nil || results[0].Err != nil {
		t.Fatalf("%s: %v %v", h, err, results[0].Err)
	}
	if !strings.Contains(out.String(), "sysroot: /roots/alpha") {
		t.Errorf("%s did not reach alpha's server: %q", h, out.String())
	}
}

// A binary built for another architecture than the host's is not copied:
// the node fails saying which binary to pass.
func TestRunOtherArchitecture(t *testing.T) {
	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "alpha"}})
	// An ELF header whose machine is not the host's: s390x, or arm64 on s390x.
	machine := elf.EM_S390
	if runtime.GOARCH == "s390x" {
		machine = elf.EM_AARCH64
	}
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(hdr[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(hdr[18:], uint16(machine))
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	binary.LittleEndian.PutUint16(hdr[52:], 64)
	bin := filepath.Join(t.TempDir(), "dump-other")
	if err := os.WriteFile(bin, hdr, 0o700); err != nil {
		t.Fatal(err)
	}
	f := &Fleet{Hosts: []Host{{Addr: "alpha"}}, SSHConfig: hosts.Config, Binaries: []string{bin}}
	results, err := f.Run(context.Background(), []fleet.Job{{Node: "alpha", Args: fleet.Fixed("gather")}})
	if err != nil {
		t.Fatal(err)
	}
	if e := results[0].Err; e == nil || !strings.Contains(e.Error(), "--node-binary") || !strings.Contains(e.Error(), "linux/"+runtime.GOARCH) {
		t.Errorf("a binary for another architecture: %v, want the node to fail naming the binary it needs", e)
	}
	if cached, _ := filepath.Glob(filepath.Join(hosts.Cache["alpha"], "dump", "bin", "*")); len(cached) != 0 {
		t.Errorf("the foreign binary was copied: %v", cached)
	}

	// With the host's own build among the binaries, that one is copied and runs.
	self, err := os.Executable() // this test binary: an ELF for this machine
	if err != nil {
		t.Fatal(err)
	}
	f.Binaries = append(f.Binaries, self)
	var out bytes.Buffer
	results, err = f.Run(context.Background(), []fleet.Job{{Node: "alpha", Args: fleet.Fixed("-test.run=^TestParseHost$", "-test.v"), Stdout: &out}})
	if err != nil || results[0].Err != nil {
		t.Fatalf("with the host's own build: %v %v", err, results[0].Err)
	}
	if !strings.Contains(out.String(), "--- PASS: TestParseHost") {
		t.Errorf("the host's own build did not run there: %q", out.String())
	}
}

func TestRunSudo(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("sudo is not installed (apt-get install sudo)")
	}
	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "alpha"}})
	var out bytes.Buffer
	f := &Fleet{Hosts: []Host{{Addr: "alpha"}}, SSHConfig: hosts.Config, Binaries: []string{writeScript(t, script)}, Sudo: true}
	results, err := f.Run(context.Background(), []fleet.Job{{Node: "alpha", Args: fleet.Fixed("gather"), Stdout: &out}})
	if err != nil || results[0].Err != nil {
		t.Fatalf("--sudo: %v %v", err, results[0].Err)
	}
	me, _ := user.Current()
	if !strings.Contains(out.String(), "sudo: "+me.Username) {
		t.Errorf("dump did not run through sudo: %q", out.String())
	}
}

func TestRunNodeFailures(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "alpha", Env: map[string]string{"PIDFILE": pidFile}}}, "down")
	f := &Fleet{Hosts: []Host{{Addr: "alpha"}, {Addr: "down"}}, SSHConfig: hosts.Config, Binaries: []string{writeScript(t, script)}, NodeTimeout: time.Minute}
	// Arguments that cannot be made (a ticket that cannot be signed) fail
	// that node only, and a host that cannot be reached never has them made.
	errSign := errors.New("cannot sign the ticket")
	results, err := f.Run(context.Background(), []fleet.Job{
		{Node: "alpha", Args: func(context.Context) ([]string, error) { return nil, errSign }},
		{Node: "down", Args: func(context.Context) ([]string, error) {
			t.Error("the arguments of a host that cannot be reached were made")
			return nil, errSign
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := results[0].Err; !errors.Is(e, errSign) {
		t.Errorf("a node whose arguments cannot be made: %v, want their error", e)
	}
	if e := results[1].Err; gather.ClassifyErr(e) != gather.FailHostUnreachable {
		t.Errorf("an unreachable host: %v, want host_unreachable", e)
	}

	results, err = f.Run(context.Background(), []fleet.Job{{Node: "alpha", Args: fleet.Fixed("fail")}})
	if err != nil {
		t.Fatal(err)
	}
	if e := results[0].Err; e == nil || !strings.Contains(e.Error(), "code 4") || !strings.Contains(e.Error(), "gather: something broke") {
		t.Errorf("a failing dump on the host: %v, want its exit code and last stderr lines", e)
	}
	// Long enough for the probe and the start on a loaded machine, far
	// shorter than the command's 30 s.
	f.NodeTimeout = 8 * time.Second
	start := time.Now()
	results, err = f.Run(context.Background(), []fleet.Job{{Node: "alpha", Args: fleet.Fixed("sleep")}})
	if err != nil {
		t.Fatal(err)
	}
	if e := results[0].Err; e == nil || gather.ClassifyErr(e) != gather.FailTimeout || time.Since(start) > 25*time.Second {
		t.Errorf("a hung host after %s: %v, want a timeout at --node-timeout", time.Since(start), e)
	}
	// The command on the host is stopped too, not left running.
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the timed-out command (pid %d) still runs on the host", pid)
		}
	}
}

func TestParseHost(t *testing.T) {
	for in, want := range map[string]Host{
		"h1":                   {Addr: "h1"},
		"root@h1.example:2222": {User: "root", Addr: "h1.example", Port: "2222"},
		"[fd00::1]:22":         {Addr: "fd00::1", Port: "22"},
		"fd00::1":              {Addr: "fd00::1"},
		"Node-1":               {Addr: "Node-1"},
	} {
		got, err := ParseHost(in)
		if err != nil || got != want {
			t.Errorf("ParseHost(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-oProxyCommand=x", "h1:0", "h1:ssh", "@h1", "h 1", "[fd00::1", "under_score"} {
		if _, err := ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q) accepted it", bad)
		}
	}
	if _, err := ParseHosts(strings.NewReader("a\nroot@a:22\n")); err == nil || !strings.Contains(err.Error(), "once") {
		t.Errorf("a host listed twice: %v", err)
	}
}
