package findings

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// fixtureNow is the time the fixture dumps under testdata/findings were "made".
var fixtureNow = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

func analyzeFixture(t *testing.T, name string, opts Options) (*Report, string) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "findings", name)
	if opts.Now.IsZero() {
		opts.Now = fixtureNow
	}
	rep, err := Analyze(context.Background(), os.DirFS(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep, dir
}

// planted is a problem planted in a fixture: the rule that must raise it and
// a text its first evidence line holds in the file.
type planted struct {
	rule string
	line string
}

func TestPlantedProblemsRaiseTheirFindings(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		opts    Options
		want    []planted
	}{
		{"host-trouble", Options{}, []planted{
			{"host.disk_full", "97% /var"},
			{"host.disk_full", "93% /data"},
			{"host.oom_kill", "invoked oom-killer"},
			{"host.memory_pressure", "page allocation failure"},
			{"host.readonly_remount", "/dev/sdb1 on /var type ext4 (ro"},
			{"host.readonly_remount", "Remounting filesystem read-only"},
			{"host.kernel_errors", "EXT4-fs error"},
			{"host.clock_unsynchronised", "System clock synchronized: no"},
			{"host.load", "load average: 11.20, 9.50"},
			{"host.memory_low", "MemAvailable:      81000 kB"},
			{"logs.jump", "2026-01-10T10:00:30"},
		}},
		{"certs", Options{}, []planted{
			{"certs.expiry", "certificate-authority-data: LS0t"}, // expired, base64 in a kubeconfig (and plain PEM)
			{"certs.expiry", "      -----BEGIN CERTIFICATE"},     // expiring, indented in a ConfigMap
		}},
		{"teleport-trouble", Options{HTTPStatus: map[string]int{"nodes/node-1/diag/readyz.txt": 503}}, []planted{
			{"teleport.readyz", "degraded state"},
			{"teleport.auth_unreachable", "Failed to connect to the auth server"},
			{"teleport.join_failed", "join token expired"},
			{"teleport.versions", "Teleport v16.4.2"},
			{"teleport.ca_rotation", "phase: update_clients"},
		}},
		{"kube-trouble", Options{}, []planted{
			{"kube.readyz", "[-]etcd failed"},
			{"kube.nodes", `status: "False"`},
			{"kube.nodes", `status: "True"`},
			{"kube.pods", "restartCount: 27"},
			{"kube.pods", "reason: ImagePullBackOff"},
			{"kube.pods", "message: '0/2 nodes are available"},
			{"kube.evictions", "reason: Evicted"},
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			rep, dir := analyzeFixture(t, tc.fixture, tc.opts)
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.Rule+": "+f.Title)
			}
			t.Logf("findings:\n%s", strings.Join(got, "\n"))
			if len(rep.Findings) != len(tc.want) {
				t.Errorf("%d findings, want %d (one per planted problem)", len(rep.Findings), len(tc.want))
			}
			used := map[int]bool{}
			for _, p := range tc.want {
				found := false
				for i, f := range rep.Findings {
					if used[i] || f.Rule != p.rule || len(f.Evidence) == 0 {
						continue
					}
					line := evidenceLine(t, dir, f.Evidence[0])
					if strings.Contains(line, p.line) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("no %s finding whose evidence line holds %q", p.rule, p.line)
				}
			}
			if tc.fixture == "certs" {
				if ev := rep.Findings[0].Evidence; len(ev) != 2 || ev[1].File != "nodes/node-1/teleport/webproxy_cert.pem" {
					t.Errorf("the expired certificate is in two files, evidence names %v", ev)
				}
			}
			for _, f := range rep.Findings {
				if f.Title == "" || f.Explanation == "" || f.Action == "" || f.Severity == "" {
					t.Errorf("%s: finding lacks title, explanation, action or severity: %+v", f.Rule, f)
				}
				for _, e := range f.Evidence {
					evidenceLine(t, dir, e)
				}
			}
		})
	}
}

// evidenceLine is the line an evidence link points at; it fails the test
// when the file or the line does not exist.
func evidenceLine(t *testing.T, dir string, e Evidence) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.File)))
	if err != nil {
		t.Errorf("evidence %s: %v", e, err)
		return ""
	}
	if e.Line == 0 {
		return string(b)
	}
	lines := strings.Split(string(b), "\n")
	if e.Line > len(lines) {
		t.Errorf("evidence %s: the file has %d lines", e, len(lines))
		return ""
	}
	return lines[e.Line-1]
}

func TestHealthyFixtureRaisesNothing(t *testing.T) {
	rep, _ := analyzeFixture(t, "healthy", Options{HTTPStatus: map[string]int{"nodes/node-1/diag/readyz.txt": 200}})
	for _, f := range rep.Findings {
		t.Errorf("false alarm %s: %s (%v)", f.Rule, f.Title, f.Evidence)
	}
	if len(rep.Timeline) == 0 {
		t.Error("no timeline: the healthy fixture's journal has warnings every few hours")
	}
	ids := append([]string(nil), rep.Rules...)
	sort.Strings(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Errorf("rule id %s used twice", ids[i])
		}
	}
}

// Teleport supports agents one major version behind auth, never ahead.
func TestTeleportVersionSkew(t *testing.T) {
	for _, tc := range []struct {
		name       string
		auth, node string
		want       bool
	}{
		{"same major", "v16.4.2", "v16.1.0", false},
		{"agent one behind", "v16.4.2", "v15.4.22", false},
		{"agent two behind", "v16.4.2", "v14.3.3", true},
		{"agent ahead of auth", "v15.4.22", "v16.4.2", true},
	} {
		tree := fstest.MapFS{
			"nodes/a/role.auth":            {Data: nil},
			"nodes/a/teleport_version.txt": {Data: []byte("Teleport " + tc.auth + " git:x go1.22\n")},
			"nodes/b/teleport_version.txt": {Data: []byte("Teleport " + tc.node + " git:x go1.22\n")},
		}
		rep, err := Analyze(context.Background(), tree, Options{Now: fixtureNow})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(rep.Findings) == 1 && rep.Findings[0].Rule == "teleport.versions"; got != tc.want {
			t.Errorf("%s (auth %s, agent %s): finding %v, want %v: %+v", tc.name, tc.auth, tc.node, got, tc.want, rep.Findings)
		}
	}
}

func TestCertificatesAreJudgedAgainstTheDumpsTime(t *testing.T) {
	// A year before the fixture, nothing had expired or was about to.
	rep, _ := analyzeFixture(t, "certs", Options{Now: fixtureNow.AddDate(-1, 0, 0)})
	for _, f := range rep.Findings {
		t.Errorf("unexpected %s: %s", f.Rule, f.Title)
	}
}

func TestCriticalFindingsComeFirst(t *testing.T) {
	rep, _ := analyzeFixture(t, "host-trouble", Options{})
	seenWarning := false
	for _, f := range rep.Findings {
		if f.Severity == Warning {
			seenWarning = true
		} else if seenWarning {
			t.Fatalf("critical %s after a warning", f.Rule)
		}
	}
}

func TestReadyzMeaningComesFromTheStatusCode(t *testing.T) {
	rep, _ := analyzeFixture(t, "teleport-trouble", Options{HTTPStatus: map[string]int{"nodes/node-1/diag/readyz.txt": 400}})
	for _, f := range rep.Findings {
		if f.Rule == "teleport.readyz" {
			if f.Severity != Warning || !strings.Contains(f.Explanation, "starting") || !strings.Contains(f.Title, "400") {
				t.Errorf("400 read as %s %q: %q", f.Severity, f.Title, f.Explanation)
			}
			return
		}
	}
	t.Error("no readyz finding")
}

func TestClassify(t *testing.T) {
	for line, want := range map[string]int{
		`time="2026-01-10T10:00:00Z" level=error msg="x"`:           2,
		`level=info msg="no error here" err=nil`:                    0,
		`{"level":"warn","msg":"slow"}`:                             1,
		`E0110 10:00:00.000000  123 kubelet.go:1] failed`:           2,
		`W0110 10:00:00.000000  123 kubelet.go:1] odd`:              1,
		`2026-01-10T10:00:00+0000 h teleport[1]: WARN [NODE] slow`:  1,
		`2026-01-10T10:00:00+0000 h teleport[1]: ERRO [PROC] down`:  2,
		`2026-01-10T10:00:00+0000 h teleport[1]: INFO [PROC] fine.`: 0,
	} {
		if got := classify(line); got != want {
			t.Errorf("classify(%q) = %d, want %d", line, got, want)
		}
	}
}

func TestLineTimeHonoursTheZone(t *testing.T) {
	for line, want := range map[string]string{
		"2026-01-10T12:30:00+0100 host unit[1]: x": "2026-01-10T11:30:00Z",
		"2026-01-10T12:30:00,123456+00:00 kernel":  "2026-01-10T12:30:00Z",
		"2026-01-10T12:30:00.5Z pod line":          "2026-01-10T12:30:00Z",
		`time="2026-01-10T12:30:00-02:00" level=x`: "2026-01-10T14:30:00Z",
	} {
		got, ok := lineTime(line)
		if !ok || got.Format(time.RFC3339) != want {
			t.Errorf("lineTime(%q) = %v %v, want %s", line, got, ok, want)
		}
	}
}

func BenchmarkAnalyzeFixtures(b *testing.B) {
	dir := filepath.Join("..", "..", "testdata", "findings")
	for b.Loop() {
		if _, err := Analyze(context.Background(), os.DirFS(dir), Options{Now: fixtureNow}); err != nil {
			b.Fatal(err)
		}
	}
}
