// Package findings reads a dump tree and says what is wrong on the host or
// cluster it came from: a disk at 97 %, OOM kills, an expired certificate, a
// crash-looping pod. Each Finding names its evidence as file and line in the
// tree, so support starts from the line that matters instead of the top of
// the tree.
//
// Rules are data where they can be (a pattern over some files, see
// patternRules) and code where they must (parsing df, YAML objects, PEM
// certificates). Analyze runs them all over a read-only fs.FS:
//
//	rep, err := findings.Analyze(ctx, os.DirFS(dir), findings.Options{Now: created})
//	for _, f := range rep.Findings { fmt.Println(f.Severity, f.Title, f.Evidence[0]) }
//
// Analyze also counts errors and warnings per hour in the largest logs
// (Report.Timeline), which the index page draws and the logs rule reads.
package findings

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Schema is the version of findings.json's layout.
const Schema = 1

// Severity orders findings: critical first.
type Severity string

const (
	Critical Severity = "critical" // something is broken now
	Warning  Severity = "warning"  // something will break or explains a symptom
)

func (s Severity) rank() int {
	if s == Critical {
		return 0
	}
	return 1
}

// Evidence is a place in the tree: a file relative to the tree root and a
// line (1-based; 0 = the whole file), with the line's text.
type Evidence struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text,omitempty"`
}

func (e Evidence) String() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return e.File
}

// Finding is one thing support should look at.
type Finding struct {
	Rule        string     `json:"rule"`
	Severity    Severity   `json:"severity"`
	Title       string     `json:"title"`
	Explanation string     `json:"explanation"` // one line: why it matters
	Action      string     `json:"action"`      // what to do
	Evidence    []Evidence `json:"evidence"`
	Time        *time.Time `json:"time,omitempty"` // when it happened, when the evidence says
}

// Report is findings.json.
type Report struct {
	Schema   int         `json:"schema"`
	Now      time.Time   `json:"now"`   // the time certificates and ages were judged against
	Rules    []string    `json:"rules"` // every rule that ran
	Findings []Finding   `json:"findings"`
	Timeline []LogSeries `json:"timeline"`
}

// Count is the number of findings of a severity.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Options tell Analyze what the tree alone cannot.
type Options struct {
	// Now is when the dump was made (manifest.json's created): certificates
	// and "recent" are judged against it. Zero means time.Now().
	Now time.Time
	// HTTPStatus maps an output file (relative to the root) to the HTTP
	// status of the request that wrote it, from manifest.json.
	HTTPStatus map[string]int
}

// Rule is one check over the tree.
type Rule struct {
	ID    string
	check func(t *tree) []Finding
}

// Rules lists every rule Analyze runs, in the order it runs them.
func Rules() []Rule {
	rs := patternRules()
	return append(rs,
		Rule{"host.disk_full", checkDiskFull},
		Rule{"host.load", checkLoad},
		Rule{"host.memory_low", checkMemAvailable},
		Rule{"certs.expiry", checkCertificates},
		Rule{"teleport.readyz", checkTeleportReadyz},
		Rule{"teleport.versions", checkTeleportVersions},
		Rule{"teleport.ca_rotation", checkCARotation},
		Rule{"kube.nodes", checkKubeNodes},
		Rule{"kube.pods", checkKubePods},
		Rule{"kube.evictions", checkEvictions},
		Rule{"logs.jump", checkLogJumps},
	)
}

// Analyze runs every rule over the tree. A file a rule cannot read or parse
// is left out of that rule; only a cancelled ctx stops the run.
func Analyze(ctx context.Context, tree fs.FS, opts Options) (*Report, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Now = opts.Now.UTC()
	t, err := walk(ctx, tree, opts)
	if err != nil {
		return nil, err
	}
	t.timeline = timeline(t)
	rep := &Report{Schema: Schema, Now: opts.Now, Findings: []Finding{}, Timeline: t.timeline}
	for _, r := range Rules() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Rules = append(rep.Rules, r.ID)
		for _, f := range r.check(t) {
			f.Rule = r.ID
			rep.Findings = append(rep.Findings, f)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		return rep.Findings[i].Severity.rank() < rep.Findings[j].Severity.rank()
	})
	return rep, nil
}

// tree is the dump being analyzed: its files and sizes, read on demand.
type tree struct {
	fsys     fs.FS
	opts     Options
	files    []file           // every regular file, in walk order
	sizes    map[string]int64 // the same, by path: rules look files up often
	timeline []LogSeries
	globs    map[string]*regexp.Regexp
}

type file struct {
	path string // slash-separated, relative to the root
	size int64
}

func walk(ctx context.Context, fsys fs.FS, opts Options) (*tree, error) {
	t := &tree{fsys: fsys, opts: opts, globs: map[string]*regexp.Regexp{}, sizes: map[string]int64{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable corner: the rules that needed it find nothing
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		t.files = append(t.files, file{p, info.Size()})
		t.sizes[p] = info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the tree: %w", err)
	}
	return t, nil
}

// glob returns the files matching any of the patterns. In a pattern, "**/"
// is any number of folders, "*" any run of characters but "/".
func (t *tree) glob(patterns ...string) []file {
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		if t.globs[p] == nil {
			t.globs[p] = globRegexp(p)
		}
		res[i] = t.globs[p]
	}
	var out []file
	for _, f := range t.files {
		for _, re := range res {
			if re.MatchString(f.path) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case strings.HasPrefix(pattern[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// maxLine is the longest line the rules look at; longer lines are cut.
const maxLine = 64 << 10

// lines calls fn for each line of a file with its 1-based number until fn
// returns false.
func (t *tree) lines(path string, fn func(n int, line string) bool) {
	f, err := t.fsys.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for s.Scan() {
		n++
		if !fn(n, s.Text()) {
			return
		}
	}
}

// size is the size of a file of the tree, and whether it is there.
func (t *tree) size(path string) (int64, bool) {
	n, ok := t.sizes[path]
	return n, ok
}

func (t *tree) read(path string, limit int64) ([]byte, bool) {
	if n, ok := t.sizes[path]; ok && n > limit {
		return nil, false
	}
	b, err := fs.ReadFile(t.fsys, path)
	return b, err == nil
}

// quote trims a line for evidence text.
func quote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// nodeOf is the node a path belongs to in a cluster dump (nodes/<id>/...),
// or "" for the top-level host.
func nodeOf(path string) string {
	if rest, ok := strings.CutPrefix(path, "nodes/"); ok {
		if i := strings.IndexByte(rest, '/'); i > 0 {
			return rest[:i]
		}
	}
	return ""
}

func onNode(path string) string {
	if n := nodeOf(path); n != "" {
		return " on " + n
	}
	return ""
}

var tsRe = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?`)

// lineTime finds the timestamp near the start of a log line: ISO 8601 as
// journalctl -o short-iso, dmesg --time-format=iso, kubectl --timestamps and
// logfmt time= write it. Without a zone it is taken as UTC.
func lineTime(line string) (time.Time, bool) {
	head := line
	if len(head) > 80 {
		head = head[:80]
	}
	m := tsRe.FindStringSubmatch(head)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02T15:04:05", m[1]+"T"+m[2])
	if err != nil {
		return time.Time{}, false
	}
	if z := strings.ReplaceAll(m[3], ":", ""); len(z) == 5 {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		h, m := int(z[1]-'0')*10+int(z[2]-'0'), int(z[3]-'0')*10+int(z[4]-'0')
		t = t.Add(-time.Duration(sign) * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
	}
	return t, true
}

func ptime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
