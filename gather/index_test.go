package gather

import (
	"testing"
	"time"

	"github.com/dumptool/dump/gather/findings"
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
