package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/internal/sshtest"
)

// Cluster dumps over --hosts against real sshd servers on 127.0.0.1: each
// "host" is an sshd whose sessions gather a fixture root of their own
// (DUMP_SYSROOT through sshd's SetEnv), reached with the real ssh client.

// hostEnv is a host's session environment: the fake product tools, no user
// config, and its own root.
func hostEnv(t *testing.T, sysroot string, extra ...string) map[string]string {
	env := map[string]string{}
	for _, kv := range append(append(baseEnv(t), "DUMP_SYSROOT="+sysroot), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "DUMP_QUIET") // a failing node says why on stderr
	return env
}

// cachedBinary is the one dump binary in a host's cache.
func cachedBinary(t *testing.T, hosts *sshtest.Hosts, alias string) os.FileInfo {
	t.Helper()
	bins, _ := filepath.Glob(filepath.Join(hosts.Cache[alias], "dump", "bin", "dump-*"))
	if len(bins) != 1 {
		t.Fatalf("%s's cache holds %v, want one dump-<sha256>", alias, bins)
	}
	st, err := os.Stat(bins[0])
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestClusterHostsOfflineAndUpload(t *testing.T) {
	fixtures := filepath.Join(repoRoot(t), "testdata", "fixtures")
	hosts := sshtest.Start(t, []sshtest.Host{
		{Alias: "host-a", Env: hostEnv(t, filepath.Join(fixtures, "teleport-node"))},
		{Alias: "host-b", Env: hostEnv(t, filepath.Join(fixtures, "k3s-server"))},
	}, "host-down")
	identity, recipient := keygen(t)

	// Offline: one local dump holding every node, no bucket.
	start := time.Now()
	r := runDump(t, t.TempDir(), nil, "gather", "--cluster", "--hosts", "host-a,host-b,host-down", "--ssh-config", hosts.Config,
		"--encrypt", "--recipient", recipient, "--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	t.Logf("offline two-host ssh cluster dump (+1 unreachable): %s", time.Since(start).Round(100*time.Millisecond))
	if r.code != 3 || !strings.Contains(r.stderr, "host-down") || !strings.Contains(r.stderr, "host unreachable") {
		t.Fatalf("an unreachable host must give exit 3 naming it: %s", r)
	}
	if !strings.HasSuffix(r.lastLine(), ".tar.zst.age") {
		t.Fatalf("gather --cluster --encrypt does not end with the sealed dump's path: %s", r)
	}
	d := runDump(t, t.TempDir(), nil, "decrypt", "--file", r.lastLine(), "--identity", identity, "--out", t.TempDir())
	if d.code != 0 {
		t.Fatalf("decrypt the offline cluster dump: %s", d)
	}
	tree := d.lastLine()
	if got := readFile(t, filepath.Join(tree, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Errorf("the initiator's part is not at the top: greeting.txt = %q", got)
	}
	checkNodeTrees(t, tree)
	if _, err := os.Stat(filepath.Join(tree, "nodes", "host-down")); err == nil {
		t.Errorf("the unreachable host has a tree")
	}
	report := readFile(t, filepath.Join(tree, "report.txt"))
	if !strings.Contains(report, "host-down") || !strings.Contains(report, "host_unreachable") {
		t.Errorf("report.txt does not name the unreachable host with kind host_unreachable:\n%s", report)
	}
	binA, binB := cachedBinary(t, hosts, "host-a"), cachedBinary(t, hosts, "host-b")

	// Upload: each host sends its part to MinIO through its own ticket;
	// the binary, unchanged, is not copied again.
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	start = time.Now()
	r = runDump(t, t.TempDir(), srv.Env(), "gather-upload", "--cluster", "--hosts", "host-a,host-b", "--ssh-config", hosts.Config,
		"--to", "s3://support/hosts", "--recipient", recipient, "--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	t.Logf("gather-upload two-host ssh cluster dump: %s", time.Since(start).Round(100*time.Millisecond))
	if r.code != 0 {
		t.Fatalf("gather-upload --cluster --hosts: %s", r)
	}
	for alias, before := range map[string]os.FileInfo{"host-a": binA, "host-b": binB} {
		if after := cachedBinary(t, hosts, alias); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
			t.Errorf("%s: the binary was copied again though its sha256 did not change", alias)
		}
	}
	if l := runDump(t, t.TempDir(), srv.Env(), "list", "--from", "s3://support/hosts"); !strings.Contains(l.stdout, "2 of 2") {
		t.Errorf("list does not say 2 of 2 nodes: %s", l)
	}
	d = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", "s3://support/hosts", "--identity", identity, "--out", t.TempDir(), r.lastLine())
	if d.code != 0 {
		t.Fatalf("decrypt the uploaded cluster dump: %s", d)
	}
	checkNodeTrees(t, d.lastLine())
}

// checkNodeTrees checks that host-a and host-b each gave their own fixture
// root: Teleport's config on a (and no k3s registries), k3s's on b (and no
// teleport.yaml).
func checkNodeTrees(t *testing.T, tree string) {
	t.Helper()
	has := func(root, name string) bool {
		found := false
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			found = found || err == nil && info.Name() == name
			return nil
		})
		return found
	}
	for node, want := range map[string][2]string{"host-a": {"teleport.yaml", "registries.yaml"}, "host-b": {"registries.yaml", "teleport.yaml"}} {
		root := filepath.Join(tree, "nodes", node)
		if _, err := os.Stat(filepath.Join(root, "manifest.json")); err != nil {
			t.Errorf("no tree of %s: %v", node, err)
			continue
		}
		if !has(root, want[0]) || has(root, want[1]) {
			t.Errorf("%s's tree is not its own fixture root's: want %s and no %s", node, want[0], want[1])
		}
	}
}

func TestClusterHostsFromTeleport(t *testing.T) {
	// Each host gathers a spec that names it, so each tree shows where it came from.
	host := func(name string) sshtest.Host {
		spec := writeSpec(t, `- name: whoami
  category: system
  kind: run
  command: [echo, `+name+`]
  output: system/whoami.txt
`)
		return sshtest.Host{Alias: name, Env: hostEnv(t, t.TempDir(), "DUMP_PROFILE=none", "DUMP_SPEC="+spec)}
	}
	hosts := sshtest.Start(t, []sshtest.Host{host("tp-node-1"), host("tp-node-2")})
	for _, tc := range []struct {
		transport, selector string
		want                []string
	}{
		{"ssh", "", []string{"tp-node-1", "tp-node-2"}}, // tctl nodes ls
		{"tsh", "env=staging", []string{"tp-node-2"}},   // tsh ls, then tsh ssh
	} {
		args := []string{"gather", "--cluster", "--hosts", "teleport", "--transport", tc.transport, "--ssh-config", hosts.Config,
			"--out", t.TempDir(), "--profile", "none"}
		if tc.selector != "" {
			args = append(args, "--node-selector", tc.selector)
		}
		r := runDump(t, t.TempDir(), []string{"DUMP_TEST_TSH_SSH_CONFIG=" + hosts.Config}, args...)
		if r.code != 0 {
			t.Fatalf("--hosts teleport --transport %s: %s", tc.transport, r)
		}
		tree := untar(t, r.lastLine())
		got, _ := filepath.Glob(filepath.Join(tree, "nodes", "*"))
		if len(got) != len(tc.want) {
			t.Errorf("--transport %s: nodes %v, want %v", tc.transport, got, tc.want)
		}
		for _, n := range tc.want {
			if w := readFile(t, filepath.Join(tree, "nodes", n, "system", "whoami.txt")); w != n+"\n" {
				t.Errorf("--transport %s: node %s's tree was gathered on %q", tc.transport, n, strings.TrimSpace(w))
			}
		}
	}
}

// A node whose part is over --node-max-size is stopped and reported; the
// others are in the dump.
func TestClusterHostsNodeMaxSize(t *testing.T) {
	spec := writeSpec(t, `- name: big
  category: system
  kind: run
  command: [head, -c, "300000", /dev/urandom]
  output: system/big.bin
`)
	hosts := sshtest.Start(t, []sshtest.Host{
		{Alias: "small", Env: hostEnv(t, t.TempDir(), "DUMP_PROFILE=none")},
		{Alias: "big", Env: hostEnv(t, t.TempDir(), "DUMP_PROFILE=none", "DUMP_SPEC="+spec)},
	})
	r := runDump(t, t.TempDir(), nil, "gather", "--cluster", "--hosts", "small,big", "--ssh-config", hosts.Config,
		"--node-max-size", "200KiB", "--out", t.TempDir(), "--profile", "none")
	if r.code != 3 || !strings.Contains(r.stderr, "big (its part is larger than --node-max-size 200KiB") {
		t.Fatalf("a node over --node-max-size must fail saying so, with exit 3: %s", r)
	}
	tree := untar(t, r.lastLine())
	if _, err := os.Stat(filepath.Join(tree, "nodes", "small", "manifest.json")); err != nil {
		t.Errorf("the small node is not in the dump: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tree, "nodes", "big")); err == nil {
		t.Errorf("the node over the limit has a tree")
	}
}

// hostileNode is a "dump" that answers gather --stdout with a part sealed to
// the session recipient whose members aim outside nodes/<node>/: an
// absolute path and a ../ path, both at $HOSTILE_TARGET, next to one
// honest file. It runs with the stock tar, zstd and age.
const hostileNode = `#!/bin/sh
set -e
while [ $# -gt 0 ]; do
	case "$1" in --uuid) uuid=$2; shift ;; --recipient) r=$2; shift ;; esac
	shift
done
w=$(mktemp -d)
mkdir -p "$w/dump-$uuid"
echo fine > "$w/dump-$uuid/ok.txt"
echo planted > "$w/planted"
cd "$w"
tar -cPf - "dump-$uuid/ok.txt" planted planted \
	--transform "s|^planted$|$HOSTILE_TARGET|;s|^$HOSTILE_TARGET$|../../../../../../../../../../../../../../..$HOSTILE_TARGET|2" |
	zstd -q -c | age -r "$r"
rm -rf "$w"
`

// A node is not trusted: what it sends back is opened with the same safe
// extractor as decrypt, and writes nothing outside its own nodes/<node>/.
func TestClusterHostsHostileNodePart(t *testing.T) {
	for _, tool := range []string{"age", "zstd", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	target := filepath.Join(t.TempDir(), "escaped.txt")
	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "evil", Env: hostEnv(t, t.TempDir(), "HOSTILE_TARGET="+target)}})
	bin := filepath.Join(t.TempDir(), "hostile-dump")
	if err := os.WriteFile(bin, []byte(hostileNode), 0o700); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather", "--cluster", "--hosts", "evil", "--ssh-config", hosts.Config,
		"--node-binary", bin, "--out", out, "--profile", "none")
	if _, err := os.Stat(target); err == nil {
		t.Fatalf("a node part wrote %s, outside the dump", target)
	}
	if r.code != 0 || !strings.Contains(r.stderr, "node evil: 2 member(s) of its part not extracted") {
		t.Fatalf("the hostile members must be skipped and said so: %s", r)
	}
	tree := untar(t, r.lastLine())
	if got := readFile(t, filepath.Join(tree, "nodes", "evil", "ok.txt")); got != "fine\n" {
		t.Errorf("the honest member is not under nodes/evil/: %q", got)
	}
	filepath.Walk(tree, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "escaped.txt" {
			t.Errorf("a hostile member was extracted: %s", p)
		}
		return nil
	})
}

// Ctrl-C on the initiator stops the dump on every host too (their
// collectors included), and leaves nothing behind here.
func TestClusterHostsInterrupt(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	spec := writeSpec(t, `- name: hang
  category: system
  kind: run
  command: [sh, -c, "echo $$ > `+pidFile+`; exec sleep 120"]
  output: system/hang.txt
`)
	env := hostEnv(t, t.TempDir(), "DUMP_PROFILE=none", "DUMP_SPEC="+spec)
	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "slow", Env: env}})
	out, tmp := t.TempDir(), t.TempDir()
	cmd := exec.Command(dumpBin, "gather", "--cluster", "--hosts", "slow", "--ssh-config", hosts.Config, "--out", out, "--profile", "none")
	cmd.Env = append(baseEnv(t), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(2 * time.Minute); pid == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatalf("the host's collector never started:\n%s", stderr.String())
	}
	// The collector's parent is the host's dump; both must end, and the
	// host's dump must clean up after itself before it does.
	hostDump := parentPID(t, pid)
	interrupt(t, cmd, &stderr, time.Minute)
	for _, p := range []int{pid, hostDump} {
		for deadline := time.Now().Add(20 * time.Second); syscall.Kill(p, 0) == nil; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the host's dump or collector (pid %d) still runs after Ctrl-C on the initiator", p)
			}
		}
	}
	for _, dir := range []string{out, tmp, env["TMPDIR"]} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("an interrupted cluster dump left %d entries in %s", len(entries), dir)
		}
	}
}

// parentPID is the parent of a running process, read from /proc.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name in parentheses may hold spaces; the fields after it do not.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return ppid
}

func TestClusterHostsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"gather", "--hosts", "h1"},
		{"gather-upload", "--hosts", "h1", "--to", "file:///tmp/x", "--recipient", "age1x"},
		{"gather", "--cluster", "--hosts", "h 1"},
		{"gather", "--cluster", "--hosts", "-oProxyCommand=evil"},
		{"gather", "--cluster", "--hosts", "h1:99999"},
		{"gather", "--cluster", "--hosts", "h1,h1"},
		{"gather", "--cluster", "--hosts", "h1", "--transport", "telnet"},
		{"gather", "--cluster", "--hosts", "teleport,h1"},
		{"gather", "--cluster", "--hosts-file", "/nonexistent/hosts"},
		{"gather", "--cluster", "--hosts", "h1", "--hosts-file", "/etc/hostname"},
	} {
		out := t.TempDir()
		r := runDump(t, t.TempDir(), nil, append(args, "--out", out)...)
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" {
			t.Errorf("%v: want a one-line usage error (exit 2): %s", args, r)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("%v: a usage error left %d files in --out", args, len(entries))
		}
	}
}
