// Package fixturetest prepares the fixture sysroots of testdata/fixtures for
// tests: a private copy with the mtimes and the journal that git cannot store.
//
//	root := fixturetest.Sysroot(t, "teleport-node") // copy, old files aged, journal written
//	fixturetest.UseFakeTools(t)                      // testdata/bin (tctl, kubectl, ...) first in PATH
package fixturetest

import (
	"bufio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/journaltest"
)

// OldAge is how old the files listed in testdata/fixtures/<name>.old and the
// old journal entries are made: outside a 24 h --since window.
const OldAge = 72 * time.Hour

// Testdata is the absolute path of the repository's testdata directory.
func Testdata(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("fixturetest: cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Bin is the absolute path of testdata/bin, the fake product tools.
func Bin(t testing.TB) string { return filepath.Join(Testdata(t), "bin") }

// UseFakeTools puts testdata/bin first in PATH for the rest of the test.
func UseFakeTools(t testing.TB) {
	t.Setenv("PATH", Bin(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Sysroot copies testdata/fixtures/<name> into a temporary directory, makes
// the files listed in <name>.old OldAge old, writes the fixture's journal
// (Entries) into var/log/journal/<machine-id>/, and returns the copy's path.
func Sysroot(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(Testdata(t), "fixtures", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := copyTree(src, dst); err != nil {
		t.Fatalf("fixturetest: copy %s: %v", name, err)
	}
	now := time.Now()
	for _, rel := range oldFiles(t, filepath.Join(Testdata(t), "fixtures", name+".old")) {
		old := now.Add(-OldAge)
		if err := os.Chtimes(filepath.Join(dst, rel), old, old); err != nil {
			t.Fatalf("fixturetest: age %s: %v", rel, err)
		}
	}
	if es := Entries(name, now); len(es) > 0 {
		journaltest.Write(t, dst, MachineID(t, dst), es)
	}
	return dst
}

// MachineID is the first line of <root>/etc/machine-id.
func MachineID(t testing.TB, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc", "machine-id"))
	if err != nil {
		t.Fatalf("fixturetest: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// Entries are the journal entries of a fixture relative to now: for each of
// its units, some within the last hour and some OldAge old. Planted secrets
// contain DUMPTESTSECRET.
func Entries(name string, now time.Time) []journaltest.Entry {
	type line struct {
		age  time.Duration
		prio int
		msg  string
	}
	var unit string
	var lines []line
	switch name {
	case "teleport-node":
		unit = "teleport.service"
		lines = []line{
			{OldAge, 6, "INFO [PROC:1] Service is starting in CE mode. pid:812.1 service/service.go:616"},
			{OldAge - 5*time.Second, 3, "ERRO [PROC:1] Failed to connect to the auth server: connection refused. service/connect.go:121"},
			{time.Hour, 6, "INFO [PROC:1] Service is starting in CE mode. pid:1203.1 service/service.go:616"},
			{50 * time.Minute, 6, "INFO [AUTH:1] Joining with token fake-join-token-DUMPTESTSECRET-3b9e. auth/register.go:210"},
			{30 * time.Minute, 4, "WARN [NODE:PROX] Failed to ping web proxy tp.example.test:443: context deadline exceeded. reversetunnel/agent.go:333"},
			{time.Minute, 6, "INFO [NODE:1] Service is starting on 0.0.0.0:3022. service/service.go:2891"},
		}
	case "k3s-server":
		unit = "k3s.service"
		lines = []line{
			{OldAge, 6, `level=info msg="Starting k3s v1.30.5+k3s1 (9b586704)"`},
			{OldAge - 5*time.Second, 3, `level=error msg="Failed to connect to proxy. Empty dialer response" error="dial tcp 127.0.0.1:6443: connect: connection refused"`},
			{time.Hour, 6, `level=info msg="Starting k3s v1.30.6+k3s1 (1829eaae)"`},
			{45 * time.Minute, 4, `level=warning msg="Unable to remove node password: unable to read node-passwd secret"`},
			{20 * time.Minute, 6, `level=info msg="Running kubelet --node-name=k3s-server-1 --token=fake-kubelet-token-DUMPTESTSECRET"`},
			{time.Minute, 6, `level=info msg="k3s is up and running"`},
		}
	default:
		return nil
	}
	es := make([]journaltest.Entry, 0, len(lines))
	for _, l := range lines {
		es = append(es, journaltest.Entry{Time: now.Add(-l.age), Unit: unit, Message: l.msg, Priority: l.prio, Hostname: name})
	}
	return es
}

// oldFiles reads a list of relative paths, one per line, # comments allowed.
func oldFiles(t testing.TB, list string) []string {
	f, err := os.Open(list)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("fixturetest: %v", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, filepath.FromSlash(l))
		}
	}
	return out
}

// copyTree copies regular files, directories and symlinks, keeping modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			return copyFile(p, to, info.Mode().Perm())
		}
	})
}

func copyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
