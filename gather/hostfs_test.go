package gather

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/dumptool/dump/gather/redact"
)

// put writes body at rel under dir, making its parents.
func put(t *testing.T, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, at string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(at), 0o755)
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

// treeHolds returns the files of the dump tree that contain any of marks.
func treeHolds(t *testing.T, dir string, marks ...string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, m := range marks {
			if bytes.Contains(b, []byte(m)) {
				found = append(found, strings.TrimPrefix(p, dir)+" holds "+m)
			}
		}
		return nil
	})
	return found
}

// A mounted root is untrusted: no symbolic link in it, whatever its shape,
// brings a file of the gathering machine into the dump.
func TestSysrootSymlinksStayInside(t *testing.T) {
	outside := t.TempDir()
	put(t, outside, "etc/hosts", "10.0.0.1 OUTSIDE-hosts\n")
	put(t, outside, "etc/os-release", "ID=OUTSIDE-os\n")
	put(t, outside, "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
	put(t, outside, "etc/hostname", "OUTSIDE-hostname\n")
	put(t, outside, "var/log/pods/ns_pod_1/c/0.log", "OUTSIDE-pod-log\n")
	put(t, outside, "etc/rancher/k3s/config.yaml", "OUTSIDE-k3s: true\n")
	t.Setenv("DUMP_TEST_CANARY", "OUTSIDE-environ-canary")

	copyOf := func(name, output string, paths ...string) Collector {
		return Collector{Name: name, Category: "test", Kind: KindCopy, Paths: paths, Output: output, Optional: true}
	}
	rel := func(from, to string) string {
		r, err := filepath.Rel(from, to)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name       string
		build      func(root string)
		collectors []Collector
	}{
		{"absolute directory component", func(root string) {
			link(t, filepath.Join(outside, "etc"), filepath.Join(root, "etc"))
		}, []Collector{copyOf("hosts", "system/hosts", "/etc/hosts"), copyOf("osrel", "system/os-release", "/etc/os-release")}},
		{"relative ../.. directory component", func(root string) {
			link(t, rel(filepath.Join(root, "etc"), filepath.Join(outside, "etc", "rancher")), filepath.Join(root, "etc", "rancher"))
		}, []Collector{copyOf("k3s", "k3s/config.yaml", "/etc/rancher/k3s/config.yaml")}},
		{"glob through a link", func(root string) {
			link(t, rel(root, filepath.Join(outside, "var")), filepath.Join(root, "var"))
		}, []Collector{copyOf("pods", "k3s/pods", "/var/log/pods/*/*/*.log")}},
		{"directory walk", func(root string) {
			link(t, filepath.Join(outside, "var"), filepath.Join(root, "var"))
			link(t, filepath.Join(outside, "var/log/pods/ns_pod_1"), filepath.Join(root, "logs/ns_pod_1"))
			put(t, root, "logs/real/c/keep.log", "inside\n")
		}, []Collector{copyOf("walk", "k3s/pods", "/var/log/pods"), copyOf("walk2", "k3s/logs", "/logs")}},
		{"/proc and teleport.yaml log.output", func(root string) {
			link(t, "/proc", filepath.Join(root, "proc"))
			link(t, "/proc/self/environ", filepath.Join(root, "var/log/teleport.log"))
			put(t, root, "etc/teleport.yaml", "teleport:\n  log:\n    output: /var/log/teleport.log\n")
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.build(root)
			cs := tc.collectors
			if cs == nil {
				// The teleport profile's log copy, as the sysroot's config makes it.
				for _, c := range teleportProfile(Env{Sysroot: root}).Collectors {
					if strings.HasSuffix(c.Output, "teleport.log") {
						cs = append(cs, c)
					}
				}
				if len(cs) != 1 {
					t.Fatalf("the teleport profile did not copy log.output: %+v", cs)
				}
				cs = append(cs, copyOf("cmdline", "system/proc/cmdline", "/proc/cmdline"), copyOf("environ", "system/environ", "/proc/self/environ"))
			}
			withProfiles(t, cs...)
			hostIDOf = HostID
			opts := testOptions(t)
			opts.Sysroot = root
			res := mustRun(t, opts)
			if leaks := treeHolds(t, res.Dir, "OUTSIDE", "0123456789abcdef0123456789abcdef"); len(leaks) > 0 {
				t.Errorf("files from outside the sysroot in the dump: %v", leaks)
			}
			if id, _ := HostID(root); id == "0123456789abcdef0123456789abcdef" {
				t.Errorf("host id read from outside the sysroot")
			}
			if b, err := os.ReadFile("/proc/cmdline"); err == nil && len(bytes.TrimSpace(b)) > 8 {
				if leaks := treeHolds(t, res.Dir, string(bytes.TrimSpace(b))); len(leaks) > 0 {
					t.Errorf("the gathering host's /proc/cmdline in the dump: %v", leaks)
				}
			}
		})
	}

	// A log.output under /proc is not a log: dump's own environment is there.
	root := t.TempDir()
	put(t, root, "etc/teleport.yaml", "teleport:\n  log:\n    output: /proc/self/environ\n")
	for _, c := range teleportProfile(Env{Sysroot: root}).Collectors {
		if strings.Contains(strings.Join(c.Paths, " "), "/proc") {
			t.Errorf("collector %s copies %v", c.Name, c.Paths)
		}
	}

	// Links that stay inside resolve as on the host the root came from.
	root = t.TempDir()
	put(t, root, "usr/lib/os-release", "ID=inside\n")
	link(t, "../usr/lib/os-release", filepath.Join(root, "etc/os-release"))
	link(t, "/usr/lib", filepath.Join(root, "lib"))
	if got := osVersion(root); got != "inside" {
		t.Errorf("os-release through links inside the sysroot: %q, want inside", got)
	}
}

// A FIFO where a config file should be never hangs gather: not in reading
// the host's names and ids, not in copying.
func TestSysrootFIFOsDoNotHang(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"etc/hostname", "etc/resolv.conf", "etc/passwd", "etc/machine-id", "etc/teleport.yaml", "etc/os-release"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		if err := syscall.Mkfifo(filepath.Join(root, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	withProfiles(t,
		Collector{Name: "etc", Category: "test", Kind: KindCopy, Paths: []string{"/etc"}, Output: "system/etc"},
		Collector{Name: "hostname", Category: "test", Kind: KindCopy, Paths: []string{"/etc/hostname"}, Output: "system/hostname", Optional: true},
	)
	hostIDOf, diagAddrOf = HostID, DiagAddrFromConfig
	opts := testOptions(t)
	opts.Sysroot = root
	opts.Timeout = 20 * time.Second

	done := make(chan *Result, 1)
	go func() {
		red, _ := redact.New(redact.Options{})
		addIdentities(red, root)
		RoleMarkers(root)
		Census(context.Background(), Env{Sysroot: root, NoCloudDetect: true})
		Detect(context.Background(), Env{Sysroot: root})
		res, err := Run(context.Background(), opts)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		if res == nil {
			return
		}
		h := result(t, res, "hostname")
		if len(h.Skipped) != 1 || h.Skipped[0].Reason != "not a regular file" {
			t.Errorf("FIFO not listed as skipped: %+v", h.Skipped)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("gather blocked on a FIFO in the sysroot")
	}
}

// A huge (sparse) etc/hostname, or one that is /dev/zero, is never read
// whole: every read of a host file is capped.
func TestSysrootHugeFilesAreCapped(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"etc/hostname", "etc/passwd", "etc/teleport.yaml"} {
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		f, err := os.Create(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(64 << 30); err != nil {
			t.Skipf("no sparse files here: %v", err)
		}
		f.Close()
	}
	if os.Geteuid() == 0 {
		if err := syscall.Mknod(filepath.Join(root, "etc/resolv.conf"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil { // /dev/zero
			t.Logf("no device node: %v", err)
		}
	}
	withProfiles(t, Collector{Name: "hostname", Category: "test", Kind: KindCopy, Paths: []string{"/etc/hostname", "/etc/resolv.conf"}, Output: "system/etc"})
	hostIDOf, diagAddrOf = HostID, DiagAddrFromConfig
	opts := testOptions(t)
	opts.Sysroot = root
	opts.MaxFileSize = 1 << 20

	before := readChars(t)
	red, _ := redact.New(redact.Options{})
	addIdentities(red, root)
	Census(context.Background(), Env{Sysroot: root, NoCloudDetect: true})
	res := mustRun(t, opts)
	read := readChars(t) - before
	if read > 256<<20 {
		t.Errorf("read %d MiB to gather a sysroot whose files are sparse or endless", read>>20)
	}
	if fi, err := os.Stat(filepath.Join(res.Dir, "system/etc/hostname")); err == nil && fi.Size() > 1<<20 {
		t.Errorf("kept %d bytes of hostname", fi.Size())
	}
}

// Rotated logs are gzipped (kubelet's 0.log.<time>.gz, Teleport's audit):
// they are decompressed and redacted like any log. Compressed files the
// redactor cannot read are left out and listed.
func TestCopyRedactsGzipLogs(t *testing.T) {
	root := t.TempDir()
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
	logText := "2024-05-01T10:00:00Z stdout F starting\n2024-05-01T10:00:01Z stdout F aws_secret_access_key = " + secret + "\n2024-05-01T10:00:02Z stdout F password=" + secret + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(logText))
	zw.Close()
	put(t, root, "var/log/pods/ns_pod_1/c/0.log", "2024-05-01T11:00:00Z stdout F current\n")
	put(t, root, "var/log/pods/ns_pod_1/c/0.log.20240501-100000.gz", gz.String())
	var zs bytes.Buffer
	ze, _ := zstd.NewWriter(&zs)
	ze.Write([]byte(logText))
	ze.Close()
	put(t, root, "var/log/pods/ns_pod_1/c/1.log.zst", zs.String())
	put(t, root, "var/lib/teleport/log/2024-05-01.log.gz", gz.String())

	withProfiles(t,
		Collector{Name: "pods", Category: "k3s", Kind: KindCopy, Paths: []string{"/var/log/pods"}, Output: "k3s/pods"},
		Collector{Name: "audit", Category: "nodes", Kind: KindCopy, Paths: []string{"/var/lib/teleport/log/*"}, Output: "nodes/audit"},
	)
	opts := testOptions(t)
	opts.Sysroot = root
	res := mustRun(t, opts)

	if leaks := treeHolds(t, res.Dir, secret); len(leaks) > 0 {
		t.Errorf("secret from a compressed log in the dump: %v", leaks)
	}
	for _, out := range []string{"k3s/pods/ns_pod_1/c/0.log.20240501-100000", "nodes/audit/2024-05-01.log"} {
		if got := readOut(t, res, out); !strings.Contains(got, "stdout F starting") {
			t.Errorf("%s: decompressed log not stored: %q", out, got)
		}
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "k3s/pods/ns_pod_1/c/1.log.zst")); err == nil {
		t.Error("zstd file copied as it is")
	}
	pods := result(t, res, "pods")
	listed := false
	for _, s := range pods.Skipped {
		listed = listed || (s.Path == "/var/log/pods/ns_pod_1/c/1.log.zst" && strings.Contains(s.Reason, "zstd"))
	}
	if !listed {
		t.Errorf("the zstd log is not listed as left out: %+v", pods.Skipped)
	}
}

// The diag address in a mounted root's teleport.yaml is only asked when it
// is loopback (or given with --diag-addr), and a redirect is never followed:
// an image must not make dump ask other machines.
func TestSysrootDiagAddrIsNotFollowed(t *testing.T) {
	var elsewhere, redirected atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		io.WriteString(w, "metadata-secret\n")
	}))
	defer target.Close()
	diag := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer diag.Close()

	gatherRoot := func(t *testing.T, diagAddr, flag string) *Result {
		root := t.TempDir()
		put(t, root, "etc/teleport.yaml", "teleport:\n  diag_addr: "+diagAddr+"\nauth_service:\n  enabled: false\n")
		opts := testOptions(t)
		opts.Sysroot, opts.Profiles, opts.DiagAddr = root, []string{"teleport"}, flag
		return mustRun(t, opts)
	}

	res := gatherRoot(t, strings.TrimPrefix(diag.URL, "http://"), "")
	r := result(t, res, "diag-healthz")
	if redirected.Load() != 0 || r.HTTPStatus != http.StatusFound || treeHolds(t, res.Dir, "metadata-secret") != nil {
		t.Errorf("redirect followed: %d requests reached its target, status %d", redirected.Load(), r.HTTPStatus)
	}

	var ip net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			ip = n.IP
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback address to listen on")
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Skipf("listen on %s: %v", ip, err)
	}
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.WriteString(w, "ok\n")
	}))
	other.Listener = l
	other.Start()
	defer other.Close()

	res = gatherRoot(t, l.Addr().String(), "")
	if elsewhere.Load() != 0 {
		t.Errorf("asked the non-loopback diag address of a sysroot's teleport.yaml %d times", elsewhere.Load())
	}
	for _, c := range res.Manifest.Collectors {
		if c.Kind == KindHTTP {
			t.Errorf("collector %s planned for a non-loopback sysroot diag address", c.Name)
		}
	}
	gatherRoot(t, "127.0.0.1:1", l.Addr().String())
	if elsewhere.Load() == 0 {
		t.Error("--diag-addr given explicitly was not asked")
	}
}

// Gather stops at the file count decrypt accepts, and says what it left out.
func TestFileCountLimit(t *testing.T) {
	was := maxEntries
	maxEntries = 30
	t.Cleanup(func() { maxEntries = was })
	root := t.TempDir()
	for i := range 200 {
		put(t, root, fmt.Sprintf("var/log/pods/p%03d/0.log", i), "line\n")
	}
	withProfiles(t, Collector{Name: "pods", Category: "k3s", Kind: KindCopy, Paths: []string{"/var/log/pods"}, Output: "k3s/pods"})
	opts := testOptions(t)
	opts.Sysroot = root
	res := mustRun(t, opts)

	entries := 0
	filepath.WalkDir(filepath.Join(res.Dir, "k3s"), func(string, fs.DirEntry, error) error { entries++; return nil })
	if entries > maxEntries || entries < maxEntries/2 {
		t.Errorf("the tree holds %d collector entries, limit %d", entries, maxEntries)
	}
	copied := len(result(t, res, "pods").Outputs)
	listed, more := 0, 0
	for _, d := range res.Manifest.Dropped {
		if d.Action != "left out" {
			continue
		}
		if d.Path == "(not listed)" {
			fmt.Sscanf(d.Reason, "%d more files", &more)
		} else {
			listed++
		}
	}
	if copied == 0 || copied+listed+more != 200 {
		t.Errorf("copied %d, listed %d left out and counted %d more: want 200 in all", copied, listed, more)
	}
}

// mountTmpfs mounts a tmpfs of size at a new directory (root only).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root: run the tests as root to check a full disk")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the full-disk test needs it", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// A filesystem too small for what the collectors produce still gets a dump:
// what does not fit is left out and listed, and the reports are written.
func TestFullDiskStillGivesADump(t *testing.T) {
	small := mountTmpfs(t, "24m")
	var cs []Collector
	for i := range 4 {
		cs = append(cs, sh(fmt.Sprintf("big%d", i), fmt.Sprintf("system/big%d.txt", i), "head -c 7000000 /dev/zero | tr '\\0' a | fold -w 99"))
	}
	withProfiles(t, cs...)
	opts := testOptions(t)
	opts.Dir = filepath.Join(small, "dump-test")
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("no dump on a small filesystem: %v", err)
	}
	m, err := ReadManifest(res.Dir)
	if err != nil {
		t.Fatalf("no manifest: %v", err)
	}
	left := 0
	for _, d := range m.Dropped {
		if strings.Contains(d.Reason, "free when gathering began") {
			left++
		}
	}
	if left == 0 || left == 4 {
		t.Errorf("%d of 4 outputs left out for want of space, want some but not all: %+v", left, m.Dropped)
	}
}

// journalctl follows links in the directory it is given: a sysroot journal
// with symbolic links in it is refused, not read.
func TestSysrootJournalLinksRefused(t *testing.T) {
	outside := t.TempDir()
	put(t, outside, "system.journal", "OUTSIDE journal\n")
	root := t.TempDir()
	link(t, filepath.Join(outside, "system.journal"), filepath.Join(root, "var/log/journal/0123456789abcdef0123456789abcdef/system.journal"))
	withProfiles(t, Collector{Name: "journal", Category: "systemd", Kind: KindJournal, Unit: "teleport.service", Output: "systemd/teleport.service"})
	opts := testOptions(t)
	opts.Sysroot = root
	res := mustRun(t, opts)
	if r := result(t, res, "journal"); r.Status != StatusFailed || !strings.Contains(r.Error, "symbolic link") {
		t.Errorf("journal with a link out of the sysroot: %s %q", r.Status, r.Error)
	}
}
