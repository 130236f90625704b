package findings

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// LogSeries is the errors and warnings per hour of one log in the tree.
type LogSeries struct {
	File  string      `json:"file"`
	Bytes int64       `json:"bytes"`
	Hours []HourCount `json:"hours"` // ascending, hours without lines left out
}

// HourCount is one hour (UTC, start of the hour) of a log.
type HourCount struct {
	Hour     time.Time `json:"hour"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	// First is the line of the hour's first error or warning.
	First int `json:"first_line,omitempty"`
}

// Timeline settings: how many logs, and how far back from the dump.
const (
	timelineLogs  = 8
	timelineHours = 72
)

// Logs the timeline reads: journals, product and pod logs, the kernel log.
var timelineFiles = []string{"**/log.txt", "**/*.log", "**/system/dmesg.txt"}

var (
	levelRe = regexp.MustCompile(`(?i)\blevel=("?)(\w+)|"level":\s*"(\w+)"`)
	klogRe  = regexp.MustCompile(`^([EWIF])\d{4} \d{2}:`)
	errRe   = regexp.MustCompile(`\b(?:ERROR|ERRO|FATAL|PANIC|CRIT|CRITICAL|EMERG)\b|\[ERROR\]|(?i:\berror\b|\bpanic:|\bfatal\b|\bsegfault\b)`)
	warnRe  = regexp.MustCompile(`\b(?:WARN|WARNING)\b|\[WARN(?:ING)?\]|(?i:\bwarning\b)`)
)

// classify says whether a log line is an error (2), a warning (1) or
// neither (0), from its level field if it has one, else from its words.
func classify(line string) int {
	if m := levelRe.FindStringSubmatch(line); m != nil {
		lv := strings.ToLower(m[2] + m[3])
		switch {
		case strings.HasPrefix(lv, "err"), lv == "fatal", lv == "panic", lv == "crit", lv == "critical":
			return 2
		case strings.HasPrefix(lv, "warn"):
			return 1
		}
		return 0
	}
	if m := klogRe.FindStringSubmatch(line); m != nil {
		switch m[1] {
		case "E", "F":
			return 2
		case "W":
			return 1
		}
		return 0
	}
	switch {
	case errRe.MatchString(line):
		return 2
	case warnRe.MatchString(line):
		return 1
	}
	return 0
}

// timeline counts errors and warnings per hour in the largest logs, over
// the timelineHours before the dump.
func timeline(t *tree) []LogSeries {
	logs := t.glob(timelineFiles...)
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].size > logs[j].size })
	if len(logs) > timelineLogs {
		logs = logs[:timelineLogs]
	}
	from := t.opts.Now.Add(-timelineHours * time.Hour).Truncate(time.Hour)
	out := []LogSeries{}
	for _, f := range logs {
		by := map[time.Time]*HourCount{}
		t.lines(f.path, func(n int, line string) bool {
			at, ok := lineTime(line)
			if !ok || at.Before(from) || at.After(t.opts.Now.Add(time.Hour)) {
				return true
			}
			c := classify(line)
			if c == 0 {
				return true
			}
			h := at.Truncate(time.Hour)
			hc := by[h]
			if hc == nil {
				hc = &HourCount{Hour: h, First: n}
				by[h] = hc
			}
			if c == 2 {
				hc.Errors++
			} else {
				hc.Warnings++
			}
			return true
		})
		if len(by) == 0 {
			continue
		}
		s := LogSeries{File: f.path, Bytes: f.size}
		for _, hc := range by {
			s.Hours = append(s.Hours, *hc)
		}
		sort.Slice(s.Hours, func(i, j int) bool { return s.Hours[i].Hour.Before(s.Hours[j].Hour) })
		out = append(out, s)
	}
	return out
}

// A jump is an hour with at least jumpMin errors and warnings and at least
// jumpFactor times the mean of the hours before it (within the window).
const (
	jumpMin    = 20
	jumpFactor = 5
	jumpWindow = 6 // hours before, for the mean
)

// checkLogJumps finds, per log, the hour where errors and warnings jumped.
func checkLogJumps(t *tree) []Finding {
	var out []Finding
	for _, s := range t.timeline {
		count := map[time.Time]HourCount{}
		for _, h := range s.Hours {
			count[h.Hour] = h
		}
		var best *HourCount
		var bestBefore float64
		for _, h := range s.Hours {
			n := h.Errors + h.Warnings
			if n < jumpMin {
				continue
			}
			sum := 0
			for i := 1; i <= jumpWindow; i++ {
				p := count[h.Hour.Add(-time.Duration(i)*time.Hour)]
				sum += p.Errors + p.Warnings
			}
			before := float64(sum) / jumpWindow
			if float64(n) >= jumpFactor*(before+1) && (best == nil || n > best.Errors+best.Warnings) {
				hc := h
				best, bestBefore = &hc, before
			}
		}
		if best == nil {
			continue
		}
		at := best.Hour
		out = append(out, Finding{
			Severity: Warning,
			Title:    fmt.Sprintf("Errors jumped in %s at %s UTC", s.File, at.Format("2006-01-02 15:00")),
			Explanation: fmt.Sprintf("%d errors and %d warnings in that hour, against %.1f per hour in the %d hours before: trouble started then.",
				best.Errors, best.Warnings, bestBefore, jumpWindow),
			Action:   "Start reading the log at the evidence line, the hour's first error; compare with other logs of the same hour in the timeline.",
			Evidence: []Evidence{{File: s.File, Line: best.First}},
			Time:     &at,
		})
	}
	return out
}
