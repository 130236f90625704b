package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/fixturetest"
)

type findingsFile struct {
	Rules    []string `json:"rules"`
	Findings []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Title    string `json:"title"`
		Evidence []struct {
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"evidence"`
	} `json:"findings"`
}

func readFindings(t *testing.T, path string) findingsFile {
	t.Helper()
	var f findingsFile
	if err := json.Unmarshal([]byte(readFile(t, path)), &f); err != nil {
		t.Fatalf("findings.json: %v", err)
	}
	return f
}

func (f findingsFile) has(rule string) bool {
	for _, x := range f.Findings {
		if x.Rule == rule {
			return true
		}
	}
	return false
}

// gatherK3s gathers the k3s fixture (whose fake kubectl has a pod in image
// pull back-off) and returns the extracted tree.
func gatherK3s(t *testing.T) (string, result) {
	t.Helper()
	root := fixturetest.Sysroot(t, "k3s-server")
	r := runDump(t, t.TempDir(), []string{"DUMP_QUIET=false"}, "gather", "--sysroot", root, "--profile", "host,k3s,kube", "--out", t.TempDir())
	if r.code != 0 && r.code != 3 {
		t.Fatalf("gather: %s", r)
	}
	return untar(t, r.lastLine()), r
}

// A gather runs the findings stage: findings.json is in the dump, the
// terminal summary counts the findings, report.txt shows them first. Then
// support plants newer evidence and dump analyze finds it (new rules on old
// dumps work the same way).
func TestGatherFindingsAndAnalyze(t *testing.T) {
	tree, r := gatherK3s(t)
	f := readFindings(t, filepath.Join(tree, "findings.json"))
	if !f.has("kube.pods") {
		t.Errorf("the fixture's pod in ImagePullBackOff raised no kube.pods finding: %+v", f.Findings)
	}
	if !strings.Contains(r.stderr, "finding") || !strings.Contains(r.stderr, "critical") {
		t.Errorf("the terminal summary does not count the findings:\n%s", r.stderr)
	}
	report := readFile(t, filepath.Join(tree, "report.txt"))
	if i, j := strings.Index(report, "FINDINGS"), strings.Index(report, "SUMMARY"); i < 0 || i > j {
		t.Errorf("report.txt does not show the findings first:\n%s", report)
	}

	// Old dump, new evidence: a full disk and OOM kills from the fixture.
	for _, name := range []string{"df.txt", "dmesg.txt"} {
		b, err := os.ReadFile(filepath.Join(fixturetest.Testdata(t), "findings", "host-trouble", "system", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "system", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r = runDump(t, t.TempDir(), nil, "analyze", tree)
	if r.code != 0 || r.lastLine() != filepath.Join(tree, "findings.json") {
		t.Fatalf("analyze: want exit 0 and the path of findings.json last: %s", r)
	}
	f = readFindings(t, r.lastLine())
	for _, rule := range []string{"host.disk_full", "host.oom_kill", "kube.pods"} {
		if !f.has(rule) {
			t.Errorf("analyze raised no %s finding", rule)
		}
	}
	for _, x := range f.Findings {
		for _, e := range x.Evidence {
			if _, err := os.Stat(filepath.Join(tree, e.File)); err != nil {
				t.Errorf("%s: evidence %s does not exist in the tree", x.Rule, e.File)
			}
		}
	}
	page := readFile(t, filepath.Join(tree, "index.html"))
	if !strings.Contains(page, "Filesystem /var is 97% full") {
		t.Error("index.html does not show the new finding")
	}
	// The grep example names a redaction token that is really in the dump.
	tok := regexp.MustCompile(`grep -rnF &#39;(\[redacted:[^&]+\])&#39;`).FindStringSubmatch(page)
	data := ""
	for _, dir := range []string{"system", "nodes", "systemd", "kube", "k3s"} {
		data += concatTree(t, filepath.Join(tree, dir))
	}
	if tok == nil || !strings.Contains(data, tok[1]) {
		t.Errorf("the grep example's token %v is not in the dump", tok)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	notDump := t.TempDir()
	for _, args := range [][]string{{"analyze"}, {"analyze", filepath.Join(notDump, "missing")}, {"analyze", notDump}} {
		r := runDump(t, t.TempDir(), nil, args...)
		if r.code != 2 || r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: want exit 2 and one line on stderr: %s", args, r)
		}
	}
	if entries, _ := os.ReadDir(notDump); len(entries) != 0 {
		t.Errorf("analyze wrote into a directory that is not a dump: %v", entries)
	}
}

// The teleport fixture is healthy: its dump raises no finding (a false
// alarm costs support as much time as a missed problem).
func TestHealthyFixtureDumpHasNoFindings(t *testing.T) {
	diag := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"status":"ok"}`)
	}))
	defer diag.Close()
	root := fixturetest.Sysroot(t, "teleport-node")
	r := runDump(t, t.TempDir(), nil, "gather", "--sysroot", root, "--profile", "teleport",
		"--diag-addr", strings.TrimPrefix(diag.URL, "http://"), "--out", t.TempDir())
	if r.code != 0 {
		t.Fatalf("gather: %s", r)
	}
	f := readFindings(t, filepath.Join(untar(t, r.lastLine()), "findings.json"))
	if len(f.Rules) < 15 {
		t.Errorf("only %d rules ran", len(f.Rules))
	}
	for _, x := range f.Findings {
		t.Errorf("false alarm on a healthy node: %s: %s", x.Rule, x.Title)
	}
}
