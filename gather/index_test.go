package gather

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/gather/findings"
	"github.com/dumptool/dump/gather/redact"
)

func TestFileHrefKeepsNamesWhole(t *testing.T) {
	for in, want := range map[string]string{
		"system/df.txt":              "./system/df.txt",
		"kube/a#b?.log":              "./kube/a%23b%3F.log",
		"javascript:alert(1)":        "./javascript:alert%281%29",
		"nodes/x y/teleport.yaml":    "./nodes/x%20y/teleport.yaml",
		"systemd/h/teleport.service": "./systemd/h/teleport.service",
	} {
		if got := fileHref(in); got != want {
			t.Errorf("fileHref(%q) = %q, want %q", in, got, want)
		}
	}
}

// The timeline spans at least a day up to the dump, sums the logs per hour
// and marks the findings that have a time inside it.
func TestTimelineMarksFindings(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 30, 0, 0, time.UTC)
	h := func(back int) time.Time { return now.Truncate(time.Hour).Add(-time.Duration(back) * time.Hour) }
	jump := h(2).Add(10 * time.Minute)
	old := h(200)
	rep := &findings.Report{Now: now,
		Timeline: []findings.LogSeries{
			{File: "a/log.txt", Hours: []findings.HourCount{{Hour: h(3), Errors: 1}, {Hour: h(2), Errors: 40, Warnings: 2}}},
			{File: "b.log", Hours: []findings.HourCount{{Hour: h(2), Warnings: 8}}},
		},
		Findings: []findings.Finding{{Title: "jump", Time: &jump}, {Title: "old cert", Time: &old}, {Title: "no time"}},
	}
	tc := newTimeline(rep)
	if !tc.Present || tc.Max != 50 || len(tc.Bars) != 2 {
		t.Fatalf("timeline: present %v, peak %d, %d bars; want a peak of 50 in 2 bars", tc.Present, tc.Max, len(tc.Bars))
	}
	if len(tc.Marks) != 1 || tc.Marks[0].X <= tc.Bars[1].X || tc.Marks[0].X >= tc.Bars[1].X+tc.Bars[1].W {
		t.Errorf("marks %+v: want one, inside the bar of its hour %+v", tc.Marks, tc.Bars[1])
	}
	if tc.From != h(23).Format("2006-01-02 15:00") {
		t.Errorf("timeline starts %s, want a day before the dump's hour", tc.From)
	}
}

// The page's grep example uses a token that is really in the dump, found in
// the outputs of a collector that redacted something; a huge output is read
// only up to tokenSearchLimit.
func TestRedactionTokenForTheGrepExample(t *testing.T) {
	root := t.TempDir()
	const token = "[redacted:password:9f8e7d6c]"
	huge := strings.Repeat("x", tokenSearchLimit) + token + "\n"
	for name, body := range map[string]string{
		"clean.txt":    "password: " + token + "\n", // its collector redacted nothing
		"huge.log":     huge,
		"config/a.txt": "line\nuser: bob password: " + token + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &Manifest{Collectors: []CollectorResult{
		{Name: "clean", Outputs: []string{"clean.txt"}},
		{Name: "huge", Outputs: []string{"huge.log"}, Redactions: redact.Counts{"password": 1}},
	}}
	if got := redactionTokenIn(root, m); got != "" {
		t.Errorf("found %q past the search limit or in a collector that redacted nothing", got)
	}
	m.Collectors = append(m.Collectors, CollectorResult{Name: "config", Outputs: []string{"config/a.txt"}, Redactions: redact.Counts{"password": 1}})
	if got := redactionTokenIn(root, m); got != token {
		t.Errorf("redactionTokenIn = %q, want %q", got, token)
	}
}
