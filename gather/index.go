package gather

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dumptool/dump/internal/human"
)

// indexPage is index.html: one self-contained page (no scripts, no network)
// that a support engineer opens first.
var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"bytes": human.Bytes,
	"ms":    func(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() },
	"join":  strings.Join,
	"time":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"deref": func(p *int) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dump {{.M.UUID}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:78em;padding:0 1em;color:#1d2125}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
code,pre,td.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f7f9;position:sticky;top:0} td.n{white-space:nowrap}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em 1em;margin:.4em 0}
.ok{color:#1a7f37} .failed,.timed_out{color:#cf222e;font-weight:600} .skipped{color:#6e7781}
tr.failed,tr.timed_out{background:#fff5f5}
.meta td:first-child{color:#57606a;width:10em} .err{color:#57606a;font-size:12.5px}
</style></head><body>
<h1>Support dump {{.M.UUID}}</h1>
<p>{{.Status}}</p>
{{if .M.Warnings}}<h2>Warnings</h2>
{{range .M.Warnings}}<div class="warn">{{.}}</div>
{{end}}{{end}}
{{if .Groups}}<h2>What failed and why</h2>
<table><tr><th>Kind</th><th>What to do</th><th>Collectors</th></tr>
{{range .Groups}}<tr><td><a href="{{.Link}}">{{.Kind}}</a></td><td>{{.Hint}}</td><td>{{range $i, $c := .Results}}{{if $i}}, {{end}}{{$c.Name}}{{end}}</td></tr>
{{end}}</table>{{end}}
<h2>This dump</h2>
<table class="meta">
<tr><td>created</td><td>{{time .M.Created}} ({{ms .M.DurationMS}})</td></tr>
<tr><td>tool</td><td>dump {{.M.ToolVersion}}</td></tr>
<tr><td>host id</td><td><code>{{.M.HostID}}</code> ({{.M.HostIDSource}})</td></tr>
<tr><td>sysroot</td><td><code>{{.M.Sysroot}}</code></td></tr>
<tr><td>profiles</td><td>{{range .M.Detections}}<b>{{.Profile}}</b>: {{.Reason}}<br>{{end}}</td></tr>
<tr><td>settings</td><td>--since {{.M.Settings.Since}}, --timeout {{.M.Settings.Timeout}}, --collector-timeout {{.M.Settings.CollectorTimeout}}, --max-file-size {{bytes .M.Settings.MaxFileSize}}, --max-size {{bytes .M.Settings.MaxSize}}</td></tr>
<tr><td>totals</td><td>{{.M.Totals.Collectors}} collectors: {{.M.Totals.OK}} ok, {{.M.Totals.Failed}} failed, {{.M.Totals.TimedOut}} timed out, {{.M.Totals.Skipped}} skipped; {{bytes .M.Totals.Bytes}} in {{.M.Totals.Files}} files; {{.Redactions}} redactions</td></tr>
{{range .Census}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>
{{end}}<tr><td>files</td><td><a href="manifest.json">manifest.json</a> · <a href="report.txt">report.txt</a> · {{if .M.Census}}<a href="census.json">census.json</a> · {{end}}<a href="trace.json">trace.json</a></td></tr>
</table>
{{if .M.Dropped}}<h2>Cut or left out to fit --max-size</h2>
<table><tr><th>File</th><th>Collector</th><th>Action</th><th>Bytes</th></tr>
{{range .M.Dropped}}<tr><td class="mono">{{.Path}}</td><td>{{.Collector}}</td><td>{{.Action}}</td><td>{{bytes .Bytes}}</td></tr>
{{end}}</table>{{end}}
{{range .Categories}}<h2>{{.Name}}</h2>
<table><tr><th>Status</th><th>Collector</th><th>Output</th><th>Exit</th><th>Duration</th><th>Size</th></tr>
{{range .Results}}<tr class="{{.Status}}"><td class="{{.Status}}">{{.Status}}{{if .Truncated}} (cut){{end}}</td>
<td>{{.Name}}{{if .Error}}<div class="err">{{.Error}}</div>{{end}}</td>
<td class="mono">{{range .Outputs}}<a href="./{{.}}">{{.}}</a><br>{{end}}{{with .ErrorFile}}<a href="./{{.}}">{{.}}</a>{{end}}</td>
<td class="n">{{deref .ExitCode}}</td><td class="n">{{ms .DurationMS}}</td><td class="n">{{bytes .Bytes}}</td></tr>
{{end}}</table>
{{end}}
<h2>How to read this dump</h2>
<pre>{{.HowTo}}</pre>
</body></html>
`))

type indexGroup struct {
	Kind    FailureKind
	Hint    string
	Link    string
	Results []CollectorResult
}

type indexCategory struct {
	Name    string
	Results []CollectorResult
}

func writeIndex(dir string, m *Manifest) error {
	data := struct {
		M          *Manifest
		Status     string
		Groups     []indexGroup
		Categories []indexCategory
		Census     []kv
		Redactions int
		HowTo      string
	}{M: m, Census: censusRows(m.Census), Redactions: m.Totals.Redactions.Total(), HowTo: howToRead}
	if n := m.Totals.Failed + m.Totals.TimedOut; n > 0 {
		data.Status = fmt.Sprintf("Incomplete: %d of %d collectors failed or timed out. Everything that could be gathered is here.", n, m.Totals.Collectors)
	} else {
		data.Status = fmt.Sprintf("Complete: all %d collectors succeeded or had nothing to collect.", m.Totals.Collectors)
	}
	for _, g := range m.failuresByKind() {
		data.Groups = append(data.Groups, indexGroup{Kind: g.kind, Hint: g.kind.Hint(), Link: g.kind.DocLink(), Results: g.results})
	}
	by := map[string][]CollectorResult{}
	var names []string
	for _, c := range m.Collectors {
		if by[c.Category] == nil {
			names = append(names, c.Category)
		}
		by[c.Category] = append(by[c.Category], c)
	}
	sort.Strings(names)
	for _, n := range names {
		rs := by[n]
		sort.SliceStable(rs, func(i, j int) bool { return statusRank(rs[i].Status) < statusRank(rs[j].Status) })
		data.Categories = append(data.Categories, indexCategory{Name: n, Results: rs})
	}
	var b bytes.Buffer
	if err := indexPage.Execute(&b, data); err != nil {
		return fmt.Errorf("render index.html: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, "index.html"), b.Bytes())
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
