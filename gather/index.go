package gather

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dumptool/dump/gather/findings"
	"github.com/dumptool/dump/internal/human"
)

// index.html is one self-contained page: inline CSS and script, no network
// request (its Content-Security-Policy forbids any), every value from the
// host escaped by html/template. It works from file:// after dump decrypt.
//
//go:embed index.html.tmpl
var indexTemplate string

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"bytes":  human.Bytes,
	"ms":     func(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() },
	"time":   func(t time.Time) string { return t.Format(time.RFC3339) },
	"href":   fileHref,
	"add":    func(a, b int) int { return a + b },
	"plural": plural,
	"upper":  func(s findings.Severity) string { return strings.ToUpper(string(s)) },
	"deref": func(p *int) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	},
}).Parse(indexTemplate))

// fileHref links a file of the tree relative to index.html, each segment
// escaped so that a "#" or "?" in a name stays part of the name.
func fileHref(rel string) string {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "./" + strings.Join(parts, "/")
}

type indexGroup struct {
	Kind    FailureKind
	Hint    string
	Link    string
	Results []CollectorResult
}

type indexData struct {
	M          *Manifest
	F          *findings.Report
	Status     string
	Groups     []indexGroup
	Collectors []CollectorResult
	Categories []string
	Census     []kv
	Redactions int
	Timeline   timelineChart
	Trace      []waterfallRow
	TraceTotal string
	Tree       []treeRow
	Commands   []string
	HowTo      string
}

// writeIndex renders index.html into out for the tree at root; out also
// holds trace.json (root itself when re-analyzing, a scratch dir in a run).
func writeIndex(out, root string, m *Manifest) error {
	f := m.findings()
	data := indexData{M: m, F: f, Census: censusRows(m.Census), Redactions: m.Totals.Redactions.Total(), HowTo: howToRead}
	if n := m.Totals.Failed + m.Totals.TimedOut; n > 0 {
		data.Status = fmt.Sprintf("Incomplete: %d of %d collectors failed or timed out. Everything that could be gathered is here.", n, m.Totals.Collectors)
	} else {
		data.Status = fmt.Sprintf("Complete: all %d collectors succeeded or had nothing to collect.", m.Totals.Collectors)
	}
	for _, g := range m.failuresByKind() {
		data.Groups = append(data.Groups, indexGroup{Kind: g.kind, Hint: g.kind.Hint(), Link: g.kind.DocLink(), Results: g.results})
	}
	data.Collectors = append([]CollectorResult(nil), m.Collectors...)
	sort.SliceStable(data.Collectors, func(i, j int) bool {
		return statusRank(data.Collectors[i].Status) < statusRank(data.Collectors[j].Status)
	})
	seen := map[string]bool{}
	for _, c := range m.Collectors {
		if !seen[c.Category] {
			seen[c.Category] = true
			data.Categories = append(data.Categories, c.Category)
		}
	}
	sort.Strings(data.Categories)
	data.Timeline = newTimeline(f)
	data.Trace, data.TraceTotal = waterfall(filepath.Join(out, "trace.json"))
	data.Tree = treeRows(root)
	data.Commands = exampleCommands(m, redactionTokenIn(root, m))

	var b bytes.Buffer
	if err := indexPage.Execute(&b, data); err != nil {
		return fmt.Errorf("render index.html: %w", err)
	}
	return writeFileAtomic(filepath.Join(out, "index.html"), b.Bytes())
}

// timelineChart is the errors and warnings per hour of the largest logs,
// summed, as SVG geometry (viewBox 0 0 timelineW timelineH).
type timelineChart struct {
	Bars    []timelineBar
	Marks   []timelineMark
	Ticks   []timelineTick
	Logs    []findings.LogSeries
	Max     int
	From    string
	To      string
	Present bool
}

type timelineBar struct {
	X, W, EY, EH, WY, WH float64
	Title                string
}

type timelineMark struct {
	X     float64
	Title string
}

type timelineTick struct {
	X     float64
	Label string
}

const (
	timelineW = 1000.0
	timelineH = 140.0
	plotTop   = 10.0
	plotH     = timelineH - 30 - plotTop
)

func newTimeline(f *findings.Report) timelineChart {
	var tc timelineChart
	type sum struct{ e, w int }
	by := map[time.Time]*sum{}
	var first, last time.Time
	for _, s := range f.Timeline {
		tc.Logs = append(tc.Logs, s)
		for _, h := range s.Hours {
			x := by[h.Hour]
			if x == nil {
				x = &sum{}
				by[h.Hour] = x
			}
			x.e += h.Errors
			x.w += h.Warnings
			if first.IsZero() || h.Hour.Before(first) {
				first = h.Hour
			}
			if h.Hour.After(last) {
				last = h.Hour
			}
		}
	}
	if len(by) == 0 {
		return tc
	}
	tc.Present = true
	// At least a day, ending with the hour of the dump, so one busy hour
	// does not fill the chart.
	if now := f.Now.Truncate(time.Hour); now.After(last) {
		last = now
	}
	if d := last.Add(-23 * time.Hour); d.Before(first) {
		first = d
	}
	hours := int(last.Sub(first)/time.Hour) + 1
	bw := timelineW / float64(hours)
	for _, x := range by {
		tc.Max = max(tc.Max, x.e+x.w)
	}
	scale := plotH / float64(tc.Max)
	base := plotTop + plotH
	for i := 0; i < hours; i++ {
		h := first.Add(time.Duration(i) * time.Hour)
		x := by[h]
		if i%max(1, hours/8) == 0 {
			tc.Ticks = append(tc.Ticks, timelineTick{X: float64(i) * bw, Label: h.Format("01-02 15:00")})
		}
		if x == nil {
			continue
		}
		eh, wh := float64(x.e)*scale, float64(x.w)*scale
		tc.Bars = append(tc.Bars, timelineBar{
			X: float64(i)*bw + bw*0.1, W: bw * 0.8,
			EY: base - eh, EH: eh, WY: base - eh - wh, WH: wh,
			Title: fmt.Sprintf("%s UTC: %d errors, %d warnings", h.Format("2006-01-02 15:00"), x.e, x.w),
		})
	}
	end := first.Add(time.Duration(hours) * time.Hour)
	for _, fd := range f.Findings {
		if fd.Time == nil || fd.Time.Before(first) || !fd.Time.Before(end) {
			continue
		}
		tc.Marks = append(tc.Marks, timelineMark{
			X:     float64(fd.Time.Sub(first)) / float64(end.Sub(first)) * timelineW,
			Title: fd.Time.UTC().Format("2006-01-02 15:04") + " UTC: " + fd.Title,
		})
	}
	tc.From, tc.To = first.Format("2006-01-02 15:00"), end.Format("2006-01-02 15:00")
	return tc
}

// waterfallRow is one span of trace.json placed on the run's time axis.
type waterfallRow struct {
	Name        string
	Stage       bool
	Left, Width float64 // percent of the run
	Duration    string
	Failed      bool
}

// span is the part of the OpenTelemetry stdout exporter's span we draw.
type span struct {
	Name   string
	Parent struct {
		SpanID string
	}
	StartTime  time.Time
	EndTime    time.Time
	Status     struct{ Code string }
	Attributes []struct {
		Key string
	}
}

// maxWaterfall bounds the rows: the slowest collectors and every stage.
const maxWaterfall = 60

func waterfall(traceFile string) ([]waterfallRow, string) {
	b, err := os.ReadFile(traceFile)
	if err != nil {
		return nil, ""
	}
	var spans []span
	if json.Unmarshal(b, &spans) != nil || len(spans) == 0 {
		return nil, ""
	}
	start, end := spans[0].StartTime, spans[0].EndTime
	for _, s := range spans {
		if s.StartTime.Before(start) {
			start = s.StartTime
		}
		if s.EndTime.After(end) {
			end = s.EndTime
		}
	}
	total := end.Sub(start)
	if total <= 0 {
		return nil, ""
	}
	type placed struct {
		span
		stage bool
	}
	var stages, collectors []placed
	for _, s := range spans {
		isStage := true
		for _, a := range s.Attributes {
			if a.Key == "category" {
				isStage = false
			}
		}
		switch {
		case s.Parent.SpanID == "" || s.Parent.SpanID == "0000000000000000":
			// the root span is the whole axis
		case isStage:
			stages = append(stages, placed{s, true})
		default:
			collectors = append(collectors, placed{s, false})
		}
	}
	sort.SliceStable(collectors, func(i, j int) bool {
		return collectors[i].EndTime.Sub(collectors[i].StartTime) > collectors[j].EndTime.Sub(collectors[j].StartTime)
	})
	if len(collectors) > maxWaterfall {
		collectors = collectors[:maxWaterfall]
	}
	all := append(stages, collectors...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].StartTime.Before(all[j].StartTime) })
	rows := make([]waterfallRow, 0, len(all))
	for _, s := range all {
		d := s.EndTime.Sub(s.StartTime)
		rows = append(rows, waterfallRow{
			Name:     s.Name,
			Stage:    s.stage,
			Left:     100 * float64(s.StartTime.Sub(start)) / float64(total),
			Width:    max(0.3, 100*float64(d)/float64(total)),
			Duration: d.Round(time.Millisecond).String(),
			Failed:   s.Status.Code == "Error",
		})
	}
	return rows, total.Round(time.Millisecond).String()
}

// treeRow is one folder of the tree: what it holds and how much.
type treeRow struct {
	Path  string
	Depth int
	Files int
	Bytes int64
	About string
}

// folderAbout says what the folders of the tree in docs/design.md hold.
var folderAbout = map[string]string{
	"system":  "the OS view: os-release, uname, uptime, ps, df, mounts, sysctl, dmesg, network, firewall, time sync",
	"nodes":   "per node: product configs (teleport.yaml, k3s config), role.<name> markers, diag endpoint output",
	"objects": "Teleport resources from tctl get (one YAML per kind; .error next to it when tctl complained)",
	"systemd": "journals per host and unit: log.txt (short-iso) and log.json (journalctl -o json)",
	"kube":    "Kubernetes: kubectl get -o yaml per resource (kube/<namespace>/ when per namespace), pod logs, readyz",
	"k3s":     "k3s: version, check-config, containerd.log, k3s logs, pod log files, crictl",
}

// maxTreeRows bounds the folder list; the files of folders past it count in
// their parents.
const maxTreeRows = 200

var redactionToken = regexp.MustCompile(`\[redacted:[a-z0-9_.-]+:[0-9a-zA-Z]+(?::len=\d+)?\]`)

// treeRows lists the folders of the tree with their file counts and sizes.
func treeRows(root string) []treeRow {
	rows := map[string]*treeRow{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".meta-") {
				return fs.SkipDir
			}
			if rel != "." && len(rows) < maxTreeRows {
				rows[rel] = &treeRow{Path: rel, Depth: strings.Count(rel, "/"), About: folderAbout[rel]}
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
			if r := rows[dir]; r != nil {
				r.Files++
				r.Bytes += info.Size()
			}
		}
		return nil
	})
	out := make([]treeRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// tokenSearchLimit bounds how much of one output redactionTokenIn reads: an
// example for the page is not worth reading a multi-gigabyte log whole.
const tokenSearchLimit = 4 << 20

// redactionTokenIn finds a redaction token for the grep example, reading
// only the start of the outputs of a collector that redacted something.
func redactionTokenIn(root string, m *Manifest) string {
	for _, c := range m.Collectors {
		if c.Redactions.Total() == 0 {
			continue
		}
		for _, o := range c.Outputs {
			if tok := firstRedactionToken(filepath.Join(root, filepath.FromSlash(o))); tok != "" {
				return tok
			}
		}
	}
	return ""
}

func firstRedactionToken(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, tokenSearchLimit))
	if err != nil {
		return ""
	}
	return string(redactionToken.Find(b))
}

// exampleCommands are commands for digging in, on real files of this dump.
func exampleCommands(m *Manifest, token string) []string {
	find := func(match func(string) bool) string {
		for _, c := range m.Collectors {
			for _, o := range c.Outputs {
				if match(o) {
					return o
				}
			}
		}
		return ""
	}
	cmds := []string{
		`jq '.findings[] | {severity, title, evidence}' findings.json`,
		`jq -r '.collectors[] | select(.status != "ok") | [.status, .name, .error] | @tsv' manifest.json`,
	}
	if j := find(func(o string) bool { return strings.HasSuffix(o, "/log.json") }); j != "" {
		cmds = append(cmds, fmt.Sprintf(`jq -r 'select((.PRIORITY | tonumber) <= 4) | .__REALTIME_TIMESTAMP + " " + .MESSAGE' %s`, j))
	}
	if y := find(func(o string) bool { return strings.HasPrefix(o, "objects/") && strings.HasSuffix(o, ".yaml") }); y != "" {
		cmds = append(cmds, fmt.Sprintf(`yq '.kind + " " + .metadata.name' %s`, y))
	} else if y := find(func(o string) bool { return strings.HasSuffix(o, "kubectl_get_pods.yaml") }); y != "" {
		cmds = append(cmds, fmt.Sprintf(`yq '.items[] | .metadata.namespace + "/" + .metadata.name + " " + .status.phase' %s`, y))
	}
	if token == "" {
		token = "[redacted:password:0123abcd]"
	}
	cmds = append(cmds,
		fmt.Sprintf(`grep -rnF '%s' .   # every place the same secret appeared`, token),
		`grep -rniE 'error|fail|denied' --include=log.txt systemd/ | less`,
	)
	return cmds
}

type kv struct{ K, V string }

// censusRows lists the census fields that have a value, in name order.
func censusRows(c *CensusInfo) []kv {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(c)
	var fields map[string]any
	json.Unmarshal(b, &fields)
	var rows []kv
	for k, v := range fields {
		var s string
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = fmt.Sprint(x)
			}
			s = strings.Join(parts, ", ")
		case nil:
		default:
			s = fmt.Sprint(v)
		}
		if s != "" {
			rows = append(rows, kv{strings.ReplaceAll(k, "_", " "), s})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].K < rows[j].K })
	return rows
}
