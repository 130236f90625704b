package gather

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dumptool/dump/docs"
	"github.com/dumptool/dump/gather/redact"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
)

// finishTimeout bounds the work after collection (budget, leak scan,
// reports). It is not cut short by --timeout: a dump is always written.
var finishTimeout = 5 * time.Minute

// Result is the outcome of a run: the tree in Dir and its manifest.
type Result struct {
	Dir      string
	Manifest *Manifest
	Plan     *Plan
}

// Incomplete reports whether any collector failed or timed out (exit 3).
func (r *Result) Incomplete() bool {
	return r.Manifest.Totals.Failed+r.Manifest.Totals.TimedOut > 0
}

// runState is what the collectors of one run share.
type runState struct {
	opts     Options
	env      Env
	dir      string
	red      *redact.Redactor
	childEnv []string
	since    time.Time // --since as a point in time

	written atomic.Int64 // bytes written so far, for the hard stop during collection

	mu        sync.Mutex
	dropped   []Dropped
	census    *CensusInfo
	entries   int             // files and directories in the tree, against maxEntries
	files     map[string]bool // written, by path in the tree
	dirs      map[string]bool // counted, by path in the tree
	made      map[string]bool // made on disk, by path in the tree
	dropCount map[string]int  // files dropped during collection, by reason
	space     int64           // bytes the collectors may write: the free space, less room for the reports
	errSpace  error           // why a file did not fit in space
}

// task is one collector of the plan with its result.
type task struct {
	c       Collector
	profile string
	res     CollectorResult
}

// collect runs every task on a pool of opts.Concurrency workers. It returns
// when all have ended; tasks not started before ctx ended are recorded as
// timed out.
func (s *runState) collect(ctx context.Context, tasks []*task, tr *tracer) {
	next := make(chan *task)
	var wg sync.WaitGroup
	for range min(s.opts.Concurrency, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				s.runTask(ctx, t)
				tr.collector(t)
			}
		}()
	}
	for i, t := range tasks {
		select {
		case next <- t:
			continue
		case <-ctx.Done():
		}
		for _, t := range tasks[i:] {
			s.opts.Progress.Started(t.c, describe(t.c, s.env))
			t.res = CollectorResult{Name: t.c.Name, Category: t.c.Category, Kind: t.c.Kind, Profile: t.profile,
				Priority: t.c.Priority, Started: time.Now().UTC()}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.res.Status, t.res.TimedOut, t.res.FailureKind = StatusTimedOut, true, FailTimeout
				t.res.Error = fmt.Sprintf("not started: the run's --timeout (%s) was reached", s.opts.Timeout)
			} else {
				t.res.fail(FailOther, "not started: canceled")
			}
			s.opts.Progress.Finished(t.c, t.res)
			tr.collector(t)
		}
		break
	}
	close(next)
	wg.Wait()
}

// abandonGrace is how long past its deadline the run waits for a collector
// before it records a timeout and moves on without it.
var abandonGrace = 5 * time.Second

// errAbandoned refuses writes from a collector the run has moved on from: its
// output would miss the leak scan.
var errAbandoned = errors.New("collector was abandoned after its deadline")

// runTask runs one collector under its own deadline and records the outcome.
func (s *runState) runTask(ctx context.Context, t *task) {
	c := t.c
	t.res = CollectorResult{Name: c.Name, Category: c.Category, Kind: c.Kind, Profile: t.profile,
		Priority: c.Priority, Redactions: redact.Counts{}, Status: StatusOK}
	timeout := time.Duration(c.Timeout)
	if timeout <= 0 {
		timeout = s.opts.CollectorTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s.opts.Progress.Started(c, describe(c, s.env))
	start := time.Now()
	t.res.Started = start.UTC()
	// The body writes into its own copy of the result, so that a body that
	// does not stop (a read blocked on a hung mount) can be left behind.
	res := t.res
	abandoned := new(atomic.Bool)
	res.abandoned = abandoned
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				slog.Error("collector panicked", "collector", c.Name, "panic", p, "stack", string(debug.Stack()))
				res.fail(FailOther, fmt.Sprintf("internal error: %v", p))
			}
		}()
		k, ok := kinds[c.Kind]
		if !ok {
			res.fail(FailOther, fmt.Sprintf("unknown collector kind %q", c.Kind))
			return
		}
		k.run(cctx, s, c, &res)
	}()
	select {
	case <-done:
		t.res = res
	case <-cctx.Done():
		select {
		case <-done:
			t.res = res
		case <-time.After(max(abandonGrace, killGrace+2*time.Second)):
			abandoned.Store(true)
			t.res.timeout(time.Since(start).Round(100 * time.Millisecond))
			t.res.Error += "; it did not stop and was abandoned (a read may be blocked, e.g. on a hung mount)"
		}
	}
	if t.res.Status == StatusFailed && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		t.res.timeout(time.Since(start).Round(100 * time.Millisecond))
	}
	t.res.DurationMS = time.Since(start).Milliseconds()
	if len(t.res.Redactions) == 0 {
		t.res.Redactions = nil
	}
	s.opts.Progress.Finished(c, t.res)
}

func (r *CollectorResult) fail(kind FailureKind, msg string) {
	r.Status, r.FailureKind = StatusFailed, kind
	if r.Error == "" {
		r.Error = msg
	} else if msg != "" && !strings.Contains(r.Error, msg) {
		r.Error = msg + "; " + r.Error
	}
}

func (r *CollectorResult) skip(msg string) {
	r.Status, r.Error = StatusSkipped, msg
}

func (r *CollectorResult) timeout(d time.Duration) {
	r.Status, r.TimedOut, r.FailureKind = StatusTimedOut, true, FailTimeout
	r.Error = fmt.Sprintf("timed out after %s (raise --collector-timeout or --timeout); killed with its child processes, partial output kept", d)
}

// Run gathers a dump into opts.Dir. Collector failures do not make it fail:
// they are in the Result. It returns an error only when nothing usable could
// be written, or when the leak scan found a secret it could not remove (the
// tree must then not be sealed).
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	created := time.Now().UTC()
	tr := newTracer(ctx, opts.ToolVersion, opts.UUID)
	runCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	end := tr.stage("plan")
	plan, err := NewPlan(runCtx, opts)
	end()
	if err != nil {
		return nil, err
	}
	for _, d := range plan.Detected {
		opts.Progress.Notef("detected: %s (%s)", d.Profile, d.Reason)
	}
	if k := plan.Env.Kube; k != nil {
		opts.Progress.Notef("%s", k.Note())
	}
	if a := configDiagAddr(opts.Sysroot); opts.DiagAddr == "" && a != "" && plan.Env.DiagAddr == "" {
		opts.Progress.Notef("the sysroot's teleport.yaml names diag_addr %s, not a loopback address: not asked (give --diag-addr to ask it)", a)
	}
	if !amRoot && opts.Sysroot == "/" {
		opts.Progress.Notef("not running as root: collectors that need root will fail; %s for a complete dump", FailNotRoot.Hint())
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create dump directory: %w", err)
	}
	if err := os.Chmod(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create dump directory: %w", err)
	}
	addIdentities(opts.Redactor, opts.Sysroot)

	s := &runState{opts: opts, env: plan.Env, dir: opts.Dir, red: opts.Redactor,
		childEnv: childEnv(opts.Sysroot), since: created.Add(-opts.Since),
		files: map[string]bool{}, dirs: map[string]bool{}, made: map[string]bool{}, dropCount: map[string]int{}}
	space, why := collectorSpace(opts.Dir)
	s.space, s.errSpace = space, errors.New("not written: "+why)
	if space < opts.MaxSize {
		opts.Progress.Notef("little space for the dump: %s; what does not fit is left out", why)
	}
	tasks := plan.tasks()
	end = tr.stage("collect")
	s.collect(runCtx, tasks, tr)
	end()

	if err := writeRoleMarkers(opts.Dir, plan); err != nil {
		opts.Progress.Notef("%v", err)
	}

	end = tr.stage("budget")
	s.dropped = append(s.dropped, s.unlistedDrops()...)
	dropped := append(s.dropped, enforceBudget(opts.Dir, tasks, opts.MaxSize)...)
	end()
	for _, d := range dropped {
		opts.Progress.Notef("dropped %s (%s, %s): %s", d.Path, human.Bytes(d.Bytes), d.Action, d.Reason)
	}

	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer fcancel()
	end = tr.stage("leak scan")
	scan, err := opts.Redactor.Scan(fctx, opts.Dir)
	end()
	if err != nil {
		return nil, err // fail closed: the tree may hold a secret
	}

	m := &Manifest{
		Schema: ManifestSchema, ToolVersion: opts.ToolVersion, UUID: opts.UUID, Created: created,
		HostID: plan.Env.HostID, HostIDSource: plan.Env.HostIDSource, Sysroot: opts.Sysroot,
		Requested: opts.Profiles, Detections: plan.Detected, Census: s.census, Kube: plan.Env.Kube,
		Settings: Settings{
			Since: opts.Since.String(), Timeout: opts.Timeout.String(), CollectorTimeout: opts.CollectorTimeout.String(),
			MaxFileSize: opts.MaxFileSize, MaxSize: opts.MaxSize, Concurrency: opts.Concurrency,
			SpecFiles: opts.SpecFiles, Root: amRoot,
		},
		Dropped:    dropped,
		Collectors: make([]CollectorResult, len(tasks)),
		Scan:       scanSummary(scan),
	}
	for _, pr := range plan.Profiles {
		m.Profiles = append(m.Profiles, pr.Name)
	}
	for i, t := range tasks {
		m.Collectors[i] = t.res
	}
	m.Collectors = append(m.Collectors, opts.Outcomes...)
	if m.Dropped == nil {
		m.Dropped = []Dropped{}
	}
	m.computeTotals()
	m.DurationMS = time.Since(created).Milliseconds()
	m.Warnings = append(warnings(m), opts.Redactor.ObfuscationNotes()...)
	end = tr.stage("findings")
	if m.Findings, err = analyzeTree(fctx, opts.Dir, m); err != nil {
		opts.Progress.Notef("%v", err)
	}
	end()

	res := &Result{Dir: opts.Dir, Manifest: m, Plan: plan}
	if err := res.writeMeta(fctx, tr, opts.Redactor); err != nil {
		return nil, err
	}
	return res, nil
}

// metaFiles are the files the engine writes at the top of the tree.
var metaFiles = []string{"manifest.json", "findings.json", "report.txt", "trace.json", "index.html", "troubleshooting.md"}

// writeMeta writes manifest.json, findings.json, report.txt, trace.json and
// index.html. They quote command lines, error messages and log lines, so they
// are written to a scratch directory and leak-scanned there before they are
// moved into the tree.
func (r *Result) writeMeta(ctx context.Context, tr *tracer, red *redact.Redactor) error {
	scratch, err := os.MkdirTemp(r.Dir, ".meta-")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.RemoveAll(scratch)
	m := r.Manifest
	for _, write := range []func() error{
		func() error { return writeJSON(scratch, "manifest.json", m) },
		func() error { return writeJSON(scratch, "findings.json", m.findings()) },
		func() error { return writeFileAtomic(filepath.Join(scratch, "report.txt"), []byte(m.Report())) },
		func() error { return tr.write(ctx, scratch, m) },
		func() error { return writeIndex(scratch, r.Dir, m) }, // draws trace.json
		func() error {
			return writeFileAtomic(filepath.Join(scratch, "troubleshooting.md"), docs.Troubleshooting)
		},
	} {
		if err := write(); err != nil {
			return err
		}
	}
	if _, err := red.Scan(ctx, scratch); err != nil {
		return err
	}
	return moveMeta(scratch, r.Dir)
}

func warnings(m *Manifest) []string {
	var w []string
	if k := m.Kube.Summary(); k != "" {
		w = append(w, k)
	}
	if !m.Settings.Root && m.Sysroot == "/" {
		w = append(w, fmt.Sprintf("dump did not run as root: data that needs root is missing (%s)", FailNotRoot.DocLink()))
	}
	if n := m.Totals.Failed + m.Totals.TimedOut; n > 0 {
		w = append(w, fmt.Sprintf("the dump is incomplete: %d of %d collectors failed or timed out (see the failures below)", n, m.Totals.Collectors))
	}
	for _, c := range m.Collectors {
		if c.Status == StatusOK && c.Error != "" {
			// Succeeded in part, such as kube_logs with some containers failing.
			w = append(w, fmt.Sprintf("%s is incomplete: %s", c.Name, c.Error))
		}
	}
	var cut, leftOut int
	var b int64
	for _, d := range m.Dropped {
		if d.Action != "left out" {
			cut++
			b += d.Bytes
			continue
		}
		n := 1
		fmt.Sscanf(d.Reason, "%d more files", &n) // the line counting those not listed
		leftOut += n
	}
	if cut > 0 {
		w = append(w, fmt.Sprintf("%d files were cut or left out (%s) to keep the dump under --max-size", cut, human.Bytes(b)))
	}
	if leftOut > 0 {
		w = append(w, fmt.Sprintf("%d files were left out: the dump reached its limit of %d files, what decrypt accepts (see dropped in manifest.json)", leftOut, layout.MaxFiles))
	}
	if m.Totals.Truncated > 0 {
		w = append(w, fmt.Sprintf("%d collectors had output cut to --max-file-size (%s); the end (newest part) was kept", m.Totals.Truncated, human.Bytes(m.Settings.MaxFileSize)))
	}
	secret := 0
	for _, c := range m.Collectors {
		secret += len(c.Skipped)
	}
	if secret > 0 {
		w = append(w, fmt.Sprintf("%d files were not copied: they hold only secrets or are not regular files (see skipped in manifest.json)", secret))
	}
	if m.Scan != nil && len(m.Scan.Fixed) > 0 {
		w = append(w, fmt.Sprintf("the leak scan found and redacted %d secrets that the collectors missed", len(m.Scan.Fixed)))
	}
	return w
}

// moveMeta moves the meta files from the scratch directory into the tree.
func moveMeta(scratch, dir string) error {
	for _, name := range metaFiles {
		if err := os.Rename(filepath.Join(scratch, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return os.Remove(scratch)
}
