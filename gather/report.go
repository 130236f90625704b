package gather

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dumptool/dump/gather/findings"
	"github.com/dumptool/dump/internal/human"
)

// Summary is a few lines for stderr at the end of a run: counts, size,
// redactions, and failures grouped by kind with where to read about each.
func (r *Result) Summary() string { return r.Manifest.summary() }

func (m *Manifest) summary() string {
	t := m.Totals
	var b strings.Builder
	if k := m.Kube.Summary(); k != "" {
		b.WriteString(k + "\n")
	}
	fmt.Fprintf(&b, "%d collectors in %s: %d ok, %d failed, %d timed out, %d skipped; %s in %d files; %d redactions\n",
		t.Collectors, (time.Duration(m.DurationMS) * time.Millisecond).Round(100*time.Millisecond),
		t.OK, t.Failed, t.TimedOut, t.Skipped, human.Bytes(t.Bytes), t.Files, t.Redactions.Total())
	if f := m.findings(); len(f.Findings) > 0 {
		fmt.Fprintf(&b, "%s: %d critical, %d warning (first in report.txt and index.html; findings.json)\n",
			plural(len(f.Findings), "finding"), f.Count(findings.Critical), f.Count(findings.Warning))
		for i, x := range f.Findings {
			if i == 3 {
				fmt.Fprintf(&b, "  +%d more\n", len(f.Findings)-3)
				break
			}
			fmt.Fprintf(&b, "  %-8s %s\n", x.Severity, x.Title)
		}
	}
	if groups := m.failuresByKind(); len(groups) > 0 {
		fmt.Fprintf(&b, "incomplete: %d collectors failed or timed out:\n", t.Failed+t.TimedOut)
		tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		for _, g := range groups {
			names := make([]string, 0, 4)
			for i, c := range g.results {
				if i == 3 {
					names = append(names, fmt.Sprintf("+%d more", len(g.results)-3))
					break
				}
				names = append(names, c.Name)
			}
			// The hint, not a link: the person at this terminal may not have
			// the dump's troubleshooting page at hand.
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", g.kind, len(g.results), strings.Join(names, ", "), g.kind.Hint())
		}
		tw.Flush()
		fmt.Fprintf(&b, "details: report.txt and %s in the dump\n", TroubleshootingDoc)
	}
	if len(m.Dropped) > 0 {
		fmt.Fprintf(&b, "%d files cut or left out to fit --max-size (see report.txt)\n", len(m.Dropped))
	}
	return b.String()
}

type failureGroup struct {
	kind    FailureKind
	results []CollectorResult
}

func (m *Manifest) failuresByKind() []failureGroup {
	by := map[FailureKind][]CollectorResult{}
	for _, c := range m.Collectors {
		if c.Failed() {
			k := c.FailureKind
			if k == "" {
				k = FailOther
			}
			by[k] = append(by[k], c)
		}
	}
	var gs []failureGroup
	for _, k := range failureKinds {
		if len(by[k]) > 0 {
			gs = append(gs, failureGroup{k, by[k]})
		}
	}
	return gs
}

// Report is report.txt: the manifest for a person, warnings first.
func (m *Manifest) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dump support report\n\n")
	fmt.Fprintf(&b, "uuid:      %s\ncreated:   %s\ntool:      dump %s\nhost id:   %s (%s)\nsysroot:   %s\nprofiles:  %s\n",
		m.UUID, m.Created.Format(time.RFC3339), m.ToolVersion, m.HostID, m.HostIDSource, m.Sysroot, strings.Join(m.Profiles, ", "))
	for _, d := range m.Detections {
		fmt.Fprintf(&b, "           %s: %s\n", d.Profile, d.Reason)
	}
	if k := m.Kube; k != nil && k.Unreachable == "" {
		fmt.Fprintf(&b, "kube:      context %s at %s; namespaces %s (%s)\n", k.Context, k.Server, k.namespaceList(), k.NamespacesWhy)
	}
	fmt.Fprintf(&b, "settings:  --since %s, --timeout %s, --collector-timeout %s, --max-file-size %s, --max-size %s\n",
		m.Settings.Since, m.Settings.Timeout, m.Settings.CollectorTimeout, human.Bytes(m.Settings.MaxFileSize), human.Bytes(m.Settings.MaxSize))

	section := func(title string) { fmt.Fprintf(&b, "\n%s\n%s\n", title, strings.Repeat("=", len(title))) }
	if f := m.findings(); len(f.Findings) > 0 {
		section("FINDINGS")
		writeFindings(&b, f.Findings)
	}
	if len(m.Warnings) > 0 {
		section("WARNINGS")
		for _, w := range m.Warnings {
			fmt.Fprintf(&b, "! %s\n", w)
		}
	}
	section("SUMMARY")
	b.WriteString(m.summary())

	if groups := m.failuresByKind(); len(groups) > 0 {
		section("WHAT FAILED AND WHY")
		for _, g := range groups {
			fmt.Fprintf(&b, "\n%s (%d): %s\n  read: %s\n", g.kind, len(g.results), g.kind.Hint(), g.kind.DocLink())
			for _, c := range g.results {
				fmt.Fprintf(&b, "  - %s: %s", c.Name, c.Error)
				if c.ErrorFile != "" {
					fmt.Fprintf(&b, " [%s]", c.ErrorFile)
				}
				b.WriteString("\n")
			}
		}
	}
	if len(m.Dropped) > 0 {
		section("CUT OR LEFT OUT TO FIT --max-size")
		for _, d := range m.Dropped {
			fmt.Fprintf(&b, "- %s (%s, %s %s): %s\n", d.Path, d.Collector, d.Action, human.Bytes(d.Bytes), d.Reason)
		}
	}
	var notes []string
	for _, c := range m.Collectors {
		for _, n := range c.Notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", c.Name, n))
		}
	}
	if len(notes) > 0 {
		section("NOTES")
		b.WriteString(strings.Join(notes, "\n") + "\n")
	}
	var skipped []string
	for _, c := range m.Collectors {
		if c.Status == StatusSkipped {
			skipped = append(skipped, fmt.Sprintf("- %s: %s", c.Name, c.Error))
		}
		for _, f := range c.Skipped {
			skipped = append(skipped, fmt.Sprintf("- %s: %s not copied: %s", c.Name, f.Path, f.Reason))
		}
	}
	if len(skipped) > 0 {
		section("SKIPPED")
		b.WriteString(strings.Join(skipped, "\n") + "\n")
	}

	section("COLLECTORS")
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tNAME\tCATEGORY\tEXIT\tDURATION\tBYTES\tOUTPUT")
	cs := append([]CollectorResult(nil), m.Collectors...)
	sort.SliceStable(cs, func(i, j int) bool { return statusRank(cs[i].Status) < statusRank(cs[j].Status) })
	for _, c := range cs {
		exit := "-"
		if c.ExitCode != nil {
			exit = fmt.Sprint(*c.ExitCode)
		}
		out := strings.Join(c.Outputs, " ")
		if len(c.Outputs) > 3 {
			out = fmt.Sprintf("%s ... (%d files)", strings.Join(c.Outputs[:3], " "), len(c.Outputs))
		}
		st := string(c.Status)
		if c.Truncated {
			st += ",cut"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st, c.Name, c.Category, exit,
			(time.Duration(c.DurationMS) * time.Millisecond).String(), human.Bytes(c.Bytes), out)
	}
	tw.Flush()

	section("HOW TO READ THIS DUMP")
	b.WriteString(howToRead)
	return b.String()
}

// writeFindings lists findings for a person: what, why, what to do, where.
func writeFindings(b *strings.Builder, fs []findings.Finding) {
	for _, f := range fs {
		fmt.Fprintf(b, "\n[%s] %s\n  why:  %s\n  do:   %s\n", strings.ToUpper(string(f.Severity)), f.Title, f.Explanation, f.Action)
		for _, e := range f.Evidence {
			fmt.Fprintf(b, "  see:  %s", e)
			if e.Text != "" {
				fmt.Fprintf(b, "  %s", e.Text)
			}
			b.WriteString("\n")
		}
	}
}

// statusRank sorts failures first.
func statusRank(s Status) int {
	switch s {
	case StatusTimedOut:
		return 0
	case StatusFailed:
		return 1
	case StatusSkipped:
		return 3
	}
	return 2
}

const howToRead = `- index.html is the place to start; manifest.json has everything below in machine-readable form.
- system/ holds the OS view (os-release, uname, ps, df, mounts, network, kernel log); census.json the host facts.
- nodes/<host-id>/ holds product configs and role.<name> markers; objects/ the tctl resources; kube/ and k3s/ the cluster.
- systemd/<host-id>/<unit>/log.txt is the unit's journal within --since (ISO timestamps), log.json the same as JSON.
- A file NAME.error next to an output holds that command's stderr; it exists only when stderr was not empty.
- Secrets were replaced by [redacted:<kind>:<id>]: the same secret has the same id in every file.
- Files cut to --max-file-size keep their end (the newest lines) and start at a whole line.
`

// plural is "1 finding" or "3 findings".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
