package gather

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dumptool/dump/gather/redact"
)

func TestTimeoutKillsWholeGroupAndKeepsPartialOutput(t *testing.T) {
	z := uniqueSleep()
	c := sh("hang", "system/hang.txt", "echo partial; sleep "+z+" & sleep "+z+"; wait")
	c.Timeout = Duration(time.Second)
	withProfiles(t, c, sh("quick", "system/quick.txt", "echo done"))
	opts := testOptions(t)

	start := time.Now()
	res := mustRun(t, opts)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("run took %s with a 1s collector timeout", d)
	}
	r := result(t, res, "hang")
	if !r.TimedOut || r.Status != StatusTimedOut || r.FailureKind != FailTimeout {
		t.Errorf("hang: timed_out=%v status=%s kind=%s, want a timeout", r.TimedOut, r.Status, r.FailureKind)
	}
	if got := readOut(t, res, "system/hang.txt"); got != "partial\n" {
		t.Errorf("partial stdout = %q, want %q", got, "partial\n")
	}
	if r.pgid == 0 {
		t.Fatal("no process group recorded")
	}
	assertGone(t, r.pgid, z)
	if q := result(t, res, "quick"); q.Status != StatusOK {
		t.Errorf("quick: %s %s", q.Status, q.Error)
	}
	if !res.Incomplete() {
		t.Error("a timed-out collector must make the dump incomplete")
	}
}

func TestTimeoutEscalatesToSIGKILL(t *testing.T) {
	old := killGrace
	killGrace = 300 * time.Millisecond
	t.Cleanup(func() { killGrace = old })
	// The ignored TERM is inherited by sleep, so only SIGKILL ends the group.
	z := uniqueSleep()
	c := sh("stubborn", "system/stubborn.txt", `trap "" TERM; echo before; sleep `+z)
	c.Timeout = Duration(500 * time.Millisecond)
	withProfiles(t, c)
	start := time.Now()
	res := mustRun(t, testOptions(t))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s", d)
	}
	r := result(t, res, "stubborn")
	if !r.TimedOut {
		t.Errorf("not recorded as timed out: %+v", r)
	}
	assertGone(t, r.pgid, z)
	if got := readOut(t, res, "system/stubborn.txt"); got != "before\n" {
		t.Errorf("partial stdout = %q", got)
	}
}

func TestBackgroundChildDoesNotHoldTheRun(t *testing.T) {
	// The command exits at once but leaves a child holding stdout open.
	z := uniqueSleep()
	withProfiles(t, sh("leaver", "system/leaver.txt", "echo hi; sleep "+z+" &"))
	start := time.Now()
	res := mustRun(t, testOptions(t))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s", d)
	}
	r := result(t, res, "leaver")
	if r.Status != StatusOK || readOut(t, res, "system/leaver.txt") != "hi\n" {
		t.Errorf("leaver: %s %q", r.Status, r.Error)
	}
	assertGone(t, r.pgid, z)
}

func TestEveryCollectorFailingStillWritesDump(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens here now: connection refused
	withProfiles(t,
		Collector{Name: "missing", Category: "objects", Kind: KindRun, Command: []string{"tctl-not-installed", "get", "users"}, Output: "objects/tctl_get_users.yaml"},
		sh("false", "system/false.txt", "exit 1"),
		Collector{Name: "nofile", Category: "system", Kind: KindCopy, Paths: []string{"/no/such/file.conf"}, Output: "system/file.conf"},
		Collector{Name: "diag", Category: "nodes", Kind: KindHTTP, URL: "http://" + closed + "/healthz", Output: "nodes/{host}/healthz.txt"},
	)
	res := mustRun(t, testOptions(t))
	for _, f := range metaFiles {
		if fi, err := os.Stat(filepath.Join(res.Dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if !res.Incomplete() {
		t.Error("Incomplete() = false with every collector failed")
	}
	if res.Manifest.Totals.Failed != 4 {
		t.Errorf("failed = %d, want 4", res.Manifest.Totals.Failed)
	}
	kinds := map[string]FailureKind{"missing": FailBinaryMissing, "false": FailCommandFailed, "diag": FailAPIUnreachable, "nofile": FailOther}
	for name, want := range kinds {
		if got := result(t, res, name).FailureKind; got != want {
			t.Errorf("%s: failure kind %q, want %q", name, got, want)
		}
	}
	report := readOut(t, res, "report.txt")
	for _, want := range []string{"WARNINGS", "incomplete", "troubleshooting.md#binary_missing", "troubleshooting.md#api_unreachable", "tctl-not-installed: not found in PATH"} {
		if !strings.Contains(report, want) {
			t.Errorf("report.txt lacks %q", want)
		}
	}
	if doc := readOut(t, res, "troubleshooting.md"); !strings.Contains(doc, "## binary_missing") {
		t.Errorf("the troubleshooting page the report links to is not in the dump")
	}
	if s := res.Summary(); !strings.Contains(s, "4 failed") || !strings.Contains(s, FailBinaryMissing.Hint()) || !strings.Contains(s, "troubleshooting.md") {
		t.Errorf("summary:\n%s", s)
	}
	m, err := ReadManifest(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Schema != ManifestSchema || m.UUID == "" || len(m.Collectors) != 4 || m.HostID != "testhost" {
		t.Errorf("manifest on disk: schema %d uuid %q %d collectors host %q", m.Schema, m.UUID, len(m.Collectors), m.HostID)
	}
}

func TestMissingBinaryFailsFast(t *testing.T) {
	c := Collector{Name: "tctl", Category: "objects", Kind: KindRun, Command: []string{"tctl-not-installed", "status"}, Output: "objects/tctl_status.txt"}
	c.Timeout = Duration(30 * time.Second)
	opt := Collector{Name: "opt", Category: "objects", Kind: KindRun, Command: []string{"crictl-not-installed"}, Output: "k3s/crictl.txt", Optional: true}
	withProfiles(t, c, opt)
	res := mustRun(t, testOptions(t))
	r := result(t, res, "tctl")
	if r.Status != StatusFailed || r.FailureKind != FailBinaryMissing {
		t.Fatalf("status %s kind %s, want failed binary_missing", r.Status, r.FailureKind)
	}
	if r.DurationMS > 2000 {
		t.Errorf("missing binary took %d ms; it must not wait for the timeout", r.DurationMS)
	}
	if r.ErrorFile != "objects/tctl_status.error" {
		t.Errorf("error file %q", r.ErrorFile)
	}
	if e := readOut(t, res, "objects/tctl_status.error"); !strings.Contains(e, "tctl-not-installed: not found in PATH") {
		t.Errorf(".error = %q", e)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "objects/tctl_status.txt")); err == nil {
		t.Error("stdout file written for a command that never ran")
	}
	if o := result(t, res, "opt"); o.Status != StatusSkipped || o.ErrorFile != "" {
		t.Errorf("optional missing binary: status %s error file %q, want skipped without .error", o.Status, o.ErrorFile)
	}
}

func TestErrorFileExitCodesAndModes(t *testing.T) {
	withProfiles(t,
		sh("clean", "system/clean.txt", "echo out"),
		sh("noisy", "system/noisy.yaml", "echo partial; echo 'oops: it broke' >&2; exit 3"),
		sh("denied", "system/denied.txt", "echo 'cat: /etc/shadow: Permission denied' >&2; exit 1"),
	)
	res := mustRun(t, testOptions(t))
	clean := result(t, res, "clean")
	if clean.ExitCode == nil || *clean.ExitCode != 0 || clean.Status != StatusOK || clean.ErrorFile != "" {
		t.Errorf("clean: %+v", clean)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "system/clean.error")); err == nil {
		t.Error(".error written for empty stderr")
	}
	noisy := result(t, res, "noisy")
	if noisy.ExitCode == nil || *noisy.ExitCode != 3 || noisy.FailureKind != FailCommandFailed {
		t.Errorf("noisy: exit %v kind %s", noisy.ExitCode, noisy.FailureKind)
	}
	if got := readOut(t, res, "system/noisy.error"); got != "oops: it broke\n" {
		t.Errorf("noisy.error = %q", got)
	}
	if !strings.Contains(noisy.Error, "exit status 3: oops: it broke") {
		t.Errorf("noisy error %q", noisy.Error)
	}
	if got := readOut(t, res, "system/noisy.yaml"); got != "partial\n" {
		t.Errorf("stdout of a failed command = %q", got)
	}
	if k := result(t, res, "denied").FailureKind; k != FailPermissionDenied && k != FailNotRoot {
		t.Errorf("denied: kind %s", k)
	}
	if !noisy.Started.Equal(noisy.Started.UTC()) || noisy.Started.Location() != time.UTC || noisy.Started.IsZero() {
		t.Errorf("start time %v is not UTC", noisy.Started)
	}
	err := filepath.WalkDir(res.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStdoutIsRedacted(t *testing.T) {
	withProfiles(t, sh("cfg", "nodes/{host}/app.yaml", `printf 'auth:\n  password: s3cr3t-Value-123\n'; echo 'token=abcdEFGH1234ijklMNOP5678' >&2; exit 1`))
	res := mustRun(t, testOptions(t))
	out := readOut(t, res, "nodes/testhost/app.yaml")
	errOut := readOut(t, res, "nodes/testhost/app.error")
	if strings.Contains(out, "s3cr3t-Value-123") || strings.Contains(errOut, "abcdEFGH1234ijklMNOP5678") {
		t.Errorf("secret written:\n%s\n%s", out, errOut)
	}
	r := result(t, res, "cfg")
	if r.Redactions.Total() < 2 {
		t.Errorf("redactions %v, want 2 or more", r.Redactions)
	}
	if res.Manifest.Totals.Redactions.Total() < 2 {
		t.Errorf("total redactions %v", res.Manifest.Totals.Redactions)
	}
	if strings.Contains(r.Error, "abcdEFGH1234ijklMNOP5678") {
		t.Errorf("secret in the manifest error: %s", r.Error)
	}
}

func TestCopyHugeFileKeepsTail(t *testing.T) {
	root := t.TempDir()
	log := filepath.Join(root, "var/log/big.log")
	os.MkdirAll(filepath.Dir(log), 0o755)
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	// 1 GiB: a sparse hole, then 4 MiB of numbered lines at the end.
	const size, text = 1 << 30, 4 << 20
	if err := f.Truncate(size - text); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, 2)
	var buf bytes.Buffer
	n := 0
	for buf.Len() < text-64 {
		n++
		fmt.Fprintf(&buf, "2024-05-01T10:00:00Z line %09d ok\n", n)
	}
	f.Write(buf.Bytes())
	f.Close()
	last := fmt.Sprintf("2024-05-01T10:00:00Z line %09d ok\n", n)

	withProfiles(t, Collector{Name: "biglog", Category: "system", Kind: KindCopy, Paths: []string{"/var/log/big.log"}, Output: "system/big.log"})
	opts := testOptions(t)
	opts.Sysroot = root
	opts.MaxFileSize = 1 << 20
	before := readChars(t)
	res := mustRun(t, opts)
	read := readChars(t) - before

	r := result(t, res, "biglog")
	if r.Status != StatusOK || !r.Truncated {
		t.Fatalf("status %s truncated %v: %s", r.Status, r.Truncated, r.Error)
	}
	got := readOut(t, res, "system/big.log")
	if len(got) > 1<<20 || len(got) < 1<<20-4096 {
		t.Errorf("kept %d bytes, want about 1 MiB", len(got))
	}
	if !strings.HasSuffix(got, last) {
		t.Errorf("last line lost; ends with %q", got[max(0, len(got)-80):])
	}
	line := regexp.MustCompile(`^2024-05-01T10:00:00Z line \d{9} ok$`)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if !line.MatchString(lines[0]) {
		t.Errorf("first kept line is cut: %q", lines[0])
	}
	if read > 64<<20 {
		t.Errorf("read %d MiB of a 1 GiB file to keep 1 MiB; must seek to the tail", read>>20)
	}
}

// readChars is the bytes this process has read so far (/proc/self/io rchar).
func readChars(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Skip("no rchar")
	return 0
}

func TestCopyUnderSysroot(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string, mode fs.FileMode) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/app/app.yaml", "name: demo\n", 0o644)
	write("etc/app/conf.d/a.conf", "a=1\n", 0o644)
	write("etc/app/tls/server.key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", 0o600)
	write("var/log/app/new.log", "fresh\n", 0o644)
	write("var/log/app/old.log", "stale\n", 0o644)
	old := time.Now().Add(-72 * time.Hour)
	os.Chtimes(filepath.Join(root, "var/log/app/old.log"), old, old)
	os.Symlink("/etc/app/app.yaml", filepath.Join(root, "etc/app-link.yaml")) // absolute: must resolve under the sysroot

	withProfiles(t,
		Collector{Name: "appdir", Category: "nodes", Kind: KindCopy, Paths: []string{"/etc/app"}, Output: "nodes/{host}/app"},
		Collector{Name: "logs", Category: "nodes", Kind: KindCopy, Paths: []string{"/var/log/app/*.log"}, Output: "nodes/{host}/logs", Since: true},
		Collector{Name: "link", Category: "nodes", Kind: KindCopy, Paths: []string{"/etc/app-link.yaml"}, Output: "nodes/{host}/link.yaml"},
		Collector{Name: "absent", Category: "nodes", Kind: KindCopy, Paths: []string{"/etc/absent/*.conf"}, Output: "nodes/{host}/absent", Optional: true},
	)
	opts := testOptions(t)
	opts.Sysroot = root
	res := mustRun(t, opts)

	if got := readOut(t, res, "nodes/testhost/app/app.yaml"); got != "name: demo\n" {
		t.Errorf("app.yaml = %q", got)
	}
	if got := readOut(t, res, "nodes/testhost/app/conf.d/a.conf"); got != "a=1\n" {
		t.Errorf("a.conf = %q", got)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "nodes/testhost/app/tls/server.key")); err == nil {
		t.Error("private key file copied")
	}
	app := result(t, res, "appdir")
	if len(app.Skipped) != 1 || app.Skipped[0].Path != "/etc/app/tls/server.key" || app.Skipped[0].Reason == "" {
		t.Errorf("skipped = %+v", app.Skipped)
	}
	logs := result(t, res, "logs")
	if _, err := os.Stat(filepath.Join(res.Dir, "nodes/testhost/logs/old.log")); err == nil || logs.OlderFiles != 1 {
		t.Errorf("old log copied despite --since (older=%d)", logs.OlderFiles)
	}
	if got := readOut(t, res, "nodes/testhost/logs/new.log"); got != "fresh\n" {
		t.Errorf("new.log = %q", got)
	}
	if got := readOut(t, res, "nodes/testhost/link.yaml"); got != "name: demo\n" {
		t.Errorf("link.yaml = %q", got)
	}
	if a := result(t, res, "absent"); a.Status != StatusSkipped {
		t.Errorf("optional copy with no match: %s", a.Status)
	}
	if res.Incomplete() {
		t.Errorf("incomplete: %s", res.Summary())
	}
}

func TestCopyPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads anything; drop to nobody with setpriv if possible.
		t.Skip("runs as root: file modes do not deny root")
	}
	root := t.TempDir()
	p := filepath.Join(root, "etc/secret.conf")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("x=1\n"), 0o000)
	withProfiles(t, Collector{Name: "c", Category: "system", Kind: KindCopy, Paths: []string{"/etc/secret.conf"}, Output: "system/secret.conf"})
	opts := testOptions(t)
	opts.Sysroot = root
	r := result(t, mustRun(t, opts), "c")
	if r.FailureKind != FailNotRoot && r.FailureKind != FailPermissionDenied {
		t.Errorf("kind %s", r.FailureKind)
	}
}

func TestBudgetDropsLowestPriorityFirst(t *testing.T) {
	mk := func(name string, prio int) Collector {
		c := sh(name, "logs/"+name+".log", `yes "hello world line of log" | head -c 307200`)
		c.Priority = prio
		return c
	}
	withProfiles(t, mk("low", 10), mk("mid", 50), mk("high", 90))
	opts := testOptions(t)
	opts.MaxSize = 500 << 10
	res := mustRun(t, opts)

	if _, err := os.Stat(filepath.Join(res.Dir, "logs/low.log")); err == nil {
		t.Error("lowest priority output kept")
	}
	mid, err := os.Stat(filepath.Join(res.Dir, "logs/mid.log"))
	if err != nil || mid.Size() >= 300<<10 || mid.Size() < 64<<10 {
		t.Errorf("mid should be cut to its tail: %v %v", mid, err)
	}
	if high := readOut(t, res, "logs/high.log"); len(high) != 307200 {
		t.Errorf("highest priority output changed: %d bytes", len(high))
	}
	var total int64
	for _, c := range res.Manifest.Collectors {
		total += c.Bytes
	}
	if total > opts.MaxSize {
		t.Errorf("outputs total %d > --max-size %d", total, opts.MaxSize)
	}
	d := res.Manifest.Dropped
	if len(d) != 2 || d[0].Path != "logs/low.log" || d[0].Action != "deleted" || d[1].Path != "logs/mid.log" || d[1].Action != "truncated" {
		t.Errorf("dropped = %+v", d)
	} else if mid != nil && (d[1].Bytes != 307200-mid.Size() || result(t, res, "mid").Bytes != mid.Size()) {
		t.Errorf("the manifest says %d bytes were cut and %d kept; on disk %d are left of 307200",
			d[1].Bytes, result(t, res, "mid").Bytes, mid.Size())
	}
	if !strings.Contains(readOut(t, res, "report.txt"), "logs/low.log") {
		t.Error("report.txt does not list the dropped file")
	}
	if m := readOut(t, res, "manifest.json"); !strings.Contains(m, `"dropped"`) || !strings.Contains(m, "logs/low.log") {
		t.Error("manifest.json does not record the drop")
	}
}

func TestHTTPCollector(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, `{"status":"ok","api_token":"zq8HkP2mVx7LrT4wNc9BdY3s"}`)
	}))
	defer srv.Close()
	withProfiles(t,
		Collector{Name: "healthz", Category: "nodes", Kind: KindHTTP, URL: srv.URL + "/healthz", Output: "nodes/{host}/healthz.json"},
		Collector{Name: "readyz", Category: "nodes", Kind: KindHTTP, URL: srv.URL + "/readyz", Output: "nodes/{host}/readyz.txt"},
	)
	res := mustRun(t, testOptions(t))
	body := readOut(t, res, "nodes/testhost/healthz.json")
	if !strings.Contains(body, `"status"`) || strings.Contains(body, "zq8HkP2mVx7LrT4wNc9BdY3s") {
		t.Errorf("healthz body = %q", body)
	}
	r := result(t, res, "readyz")
	if r.Status != StatusFailed || r.HTTPStatus != 503 || !strings.Contains(readOut(t, res, "nodes/testhost/readyz.txt"), "not ready") {
		t.Errorf("readyz: %s %d %s", r.Status, r.HTTPStatus, r.Error)
	}
}

func TestJournalFromSysroot(t *testing.T) {
	remote := "/lib/systemd/systemd-journal-remote"
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("journalctl not installed")
	}
	if _, err := os.Stat(remote); err != nil {
		t.Skip("systemd-journal-remote not installed (Debian package systemd-journal-remote)")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "var/log/journal/remote")
	os.MkdirAll(dir, 0o755)
	now := time.Now()
	var exp bytes.Buffer
	for i, e := range []struct {
		at  time.Time
		msg string
	}{{now.Add(-48 * time.Hour), "old entry"}, {now.Add(-time.Hour), "new entry password=hunter2hunter2"}} {
		fmt.Fprintf(&exp, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT=demo.service\n_HOSTNAME=h1\nMESSAGE=%s\n\n",
			e.at.UnixMicro(), 1000*(i+1), e.msg)
	}
	cmd := exec.Command(remote, "--output="+filepath.Join(dir, "remote.journal"), "-")
	cmd.Stdin = &exp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}

	withProfiles(t,
		Collector{Name: "journal-demo", Category: "systemd", Kind: KindJournal, Unit: "demo.service", Output: "systemd/{host}/demo.service"},
		Collector{Name: "journal-none", Category: "systemd", Kind: KindJournal, Unit: "none.service", Output: "systemd/{host}/none.service"},
	)
	opts := testOptions(t)
	opts.Sysroot = root
	res := mustRun(t, opts)
	r := result(t, res, "journal-demo")
	if r.Status != StatusOK {
		t.Fatalf("journal: %s %s", r.Status, r.Error)
	}
	txt := readOut(t, res, "systemd/testhost/demo.service/log.txt")
	if !strings.Contains(txt, "new entry") || strings.Contains(txt, "old entry") {
		t.Errorf("log.txt within --since 24h:\n%s", txt)
	}
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`).MatchString(txt) {
		t.Errorf("log.txt lines carry no ISO timestamp:\n%s", txt)
	}
	if strings.Contains(txt, "hunter2hunter2") {
		t.Error("journal not redacted")
	}
	js := readOut(t, res, "systemd/testhost/demo.service/log.json")
	var entry map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(js, "\n", 2)[0]), &entry); err != nil || entry["_SYSTEMD_UNIT"] != "demo.service" {
		t.Errorf("log.json first line %q: %v", js, err)
	}
	if !strings.Contains(strings.Join(r.Command, " "), "--directory "+dir) {
		t.Errorf("command %v does not read the sysroot's journal", r.Command)
	}
	if n := result(t, res, "journal-none"); n.Status != StatusOK {
		t.Errorf("a unit without entries is not a failure: %s %s", n.Status, n.Error)
	}
}

func TestRunTimeoutStopsEverything(t *testing.T) {
	var cs []Collector
	for i := range 6 {
		cs = append(cs, sh(fmt.Sprintf("slow%d", i), fmt.Sprintf("system/slow%d.txt", i), "sleep 1000"))
	}
	withProfiles(t, cs...)
	opts := testOptions(t)
	opts.Timeout = time.Second
	opts.Concurrency = 2
	start := time.Now()
	res := mustRun(t, opts)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("run took %s with --timeout 1s", d)
	}
	if res.Manifest.Totals.TimedOut != 6 {
		t.Errorf("timed out = %d, want 6 (2 killed, 4 never started)", res.Manifest.Totals.TimedOut)
	}
}

func TestIndexHTMLEscapesAndLinks(t *testing.T) {
	withProfiles(t, sh("xss", "system/xss.txt", `echo '<script>alert(1)</script>' >&2; exit 1`), sh("ok", "system/ok.txt", "echo fine"))
	res := mustRun(t, testOptions(t))
	page := readOut(t, res, "index.html")
	if strings.Contains(page, "<script>alert") {
		t.Error("index.html carries unescaped command output")
	}
	for _, want := range []string{`href="./system/ok.txt"`, `href="./system/xss.error"`, "What failed and why", "command_failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Count(page, "<script") != 1 {
		t.Error("index.html must be self-contained: no URL, only its own inline script")
	}
}

func TestTraceJSON(t *testing.T) {
	withProfiles(t, sh("a", "system/a.txt", "echo a"), sh("b", "system/b.txt", "exit 2"))
	res := mustRun(t, testOptions(t))
	var spans []struct {
		Name        string
		SpanContext struct{ SpanID string }
		Parent      struct{ SpanID string }
		Attributes  []struct {
			Key   string
			Value struct{ Value any }
		}
		Status struct{ Code string }
	}
	if err := json.Unmarshal([]byte(readOut(t, res, "trace.json")), &spans); err != nil {
		t.Fatalf("trace.json: %v", err)
	}
	byName := map[string]int{}
	for i, s := range spans {
		byName[s.Name] = i
	}
	for _, n := range []string{"gather", "plan", "collect", "leak scan", "a", "b"} {
		if _, ok := byName[n]; !ok {
			t.Errorf("no span %q in trace.json", n)
		}
	}
	for child, parent := range map[string]string{"a": "collect", "b": "collect", "collect": "gather"} {
		if spans[byName[child]].Parent.SpanID != spans[byName[parent]].SpanContext.SpanID {
			t.Errorf("span %q is not a child of %q", child, parent)
		}
	}
	b := spans[byName["b"]]
	if b.Status.Code != "Error" {
		t.Errorf("failed collector span status %q", b.Status.Code)
	}
	var exit any
	for _, a := range b.Attributes {
		if a.Key == "exit_code" {
			exit = a.Value.Value
		}
	}
	if fmt.Sprint(exit) != "2" {
		t.Errorf("exit_code attribute = %v", exit)
	}
}

func TestProgressEvents(t *testing.T) {
	withProfiles(t, sh("a", "system/a.txt", "echo a"), sh("b", "system/b.txt", "echo b"))
	p := &recorder{}
	opts := testOptions(t)
	opts.Progress = p
	mustRun(t, opts)
	if p.started != 2 || p.finished != 2 || len(p.notes) == 0 || !strings.HasPrefix(p.notes[0], "detected: host") {
		t.Errorf("progress: %d started, %d finished, notes %q", p.started, p.finished, p.notes)
	}
}

type recorder struct {
	mu                sync.Mutex
	started, finished int
	notes             []string
}

func (r *recorder) Started(Collector, string) { r.mu.Lock(); r.started++; r.mu.Unlock() }
func (r *recorder) Finished(Collector, CollectorResult) {
	r.mu.Lock()
	r.finished++
	r.mu.Unlock()
}
func (r *recorder) Notef(f string, a ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}

func TestDryRun(t *testing.T) {
	withProfiles(t, sh("a", "system/a.txt", "echo a"),
		Collector{Name: "j", Category: "systemd", Kind: KindJournal, Unit: "teleport.service", Output: "systemd/{host}/teleport.service"},
		sh("dup", "system/a.txt", "echo duplicate output"))
	p, err := NewPlan(context.Background(), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteDryRun(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"host: 2 collectors", "run", "system/a.txt", "sh -c 'echo a'", "journal", "systemd/testhost/teleport.service", "20s"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "duplicate") {
		t.Error("a collector with an output already taken is still planned")
	}
	if _, err := NewPlan(context.Background(), Options{Profiles: []string{"nosuch"}}); err == nil || !strings.Contains(err.Error(), `unknown profile "nosuch"`) {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestRunRequiresRedactor(t *testing.T) {
	withProfiles(t, sh("a", "system/a.txt", "echo a"))
	opts := testOptions(t)
	opts.Redactor = nil
	if _, err := Run(context.Background(), opts); err == nil {
		t.Fatal("ran without a redactor")
	}
	if _, err := os.Stat(opts.Dir); err == nil {
		t.Error("wrote a tree without a redactor")
	}
}

func TestLeakScanFailsClosed(t *testing.T) {
	withProfiles(t, sh("a", "system/a.txt", "echo a"))
	opts := testOptions(t)
	os.MkdirAll(opts.Dir, 0o700)
	// The scan cannot read a FIFO, so it cannot vouch for the tree.
	if err := syscall.Mkfifo(filepath.Join(opts.Dir, "odd"), 0o600); err != nil {
		t.Skip(err)
	}
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "leak scan") {
		t.Fatalf("Run = %v, want a leak scan error", err)
	}
}

func TestObfuscatesHostIdentities(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("node7.corp.example.com\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/motd"), []byte("welcome to node7.corp.example.com, alice\n"), 0o644)
	withProfiles(t, Collector{Name: "motd", Category: "system", Kind: KindCopy, Paths: []string{"/etc/motd"}, Output: "system/motd"})
	red, err := redact.New(redact.Options{Obfuscate: []string{"hostnames", "users", "domains"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Sysroot, opts.Redactor = root, red
	got := readOut(t, mustRun(t, opts), "system/motd")
	if strings.Contains(got, "node7") || strings.Contains(got, "alice") || strings.Contains(got, "example.com") {
		t.Errorf("identities not obfuscated: %q", got)
	}
}
