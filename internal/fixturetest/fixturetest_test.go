package fixturetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSysrootAgesFilesAndWritesJournal(t *testing.T) {
	for _, tc := range []struct{ fixture, unit, old, fresh string }{
		{"teleport-node", "teleport.service", "var/lib/teleport/log/events/archived.log", "var/lib/teleport/log/events/current.log"},
		{"k3s-server", "k3s.service", "var/log/pods/kube-system_helm-install-traefik-crd-5xk2p_0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d/helm/0.log", "var/log/k3s.log"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			root := Sysroot(t, tc.fixture)
			cutoff := time.Now().Add(-24 * time.Hour)
			if fi, err := os.Stat(filepath.Join(root, tc.old)); err != nil || fi.ModTime().After(cutoff) {
				t.Errorf("%s should be older than 24h: %v %v", tc.old, fi, err)
			}
			if fi, err := os.Stat(filepath.Join(root, tc.fresh)); err != nil || fi.ModTime().Before(cutoff) {
				t.Errorf("%s should be fresh: %v", tc.fresh, err)
			}

			since := cutoff.Format("2006-01-02 15:04:05")
			dir := filepath.Join(root, "var", "log", "journal")
			for _, format := range []string{"short-iso", "json"} {
				out, err := exec.Command("journalctl", "--directory", dir, "-u", tc.unit, "--since", since, "-o", format, "--no-pager").Output()
				if err != nil {
					t.Fatalf("journalctl -o %s: %v", format, err)
				}
				got := string(out)
				if format == "json" {
					got = strings.ReplaceAll(got, `\"`, `"`)
				}
				for _, e := range Entries(tc.fixture, time.Now()) {
					recent := time.Since(e.Time) < 24*time.Hour
					if strings.Contains(got, e.Message) != recent {
						t.Errorf("-o %s: entry %q (recent=%v) present=%v", format, e.Message, recent, !recent)
					}
				}
			}
		})
	}
}

// The shell script makes the same kind of journal for demos and manual runs.
func TestMakeJournalFixtureScript(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "machine-id"), []byte("00112233445566778899aabbccddeeff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(Testdata(t), "..", "scripts", "make-journal-fixture.sh")
	if out, err := exec.Command(script, root, "teleport.service").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "var/log/journal/00112233445566778899aabbccddeeff/system.journal")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("journalctl", "--root", root, "-u", "teleport.service", "--since", "-24h", "-o", "short-iso", "--no-pager").Output()
	if err != nil {
		t.Fatalf("journalctl --root: %v", err)
	}
	if got := string(out); strings.Count(got, "RECENT entry") != 3 || strings.Contains(got, "OLD entry") {
		t.Errorf("want the 3 recent entries and no old one, got:\n%s", got)
	}
}
