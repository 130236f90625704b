package gather

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dumptool/dump/docs"
	"github.com/dumptool/dump/gather/redact"
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
		childEnv: childEnv(opts.Sysroot), since: created.Add(-opts.Since)}
	tasks := plan.tasks()
	end = tr.stage("collect")
	s.collect(runCtx, tasks, tr)
	end()

	if err := writeRoleMarkers(opts.Dir, plan); err != nil {
		opts.Progress.Notef("%v", err)
	}

	end = tr.stage("budget")
	dropped := append(s.dropped, enforceBudget(opts.Dir, tasks, opts.MaxSize)...)
	end()
	for _, d := range dropped {
		opts.Progress.Notef("dropped %s (%s, %s): %s", d.Path, humanBytes(d.Bytes), d.Action, d.Reason)
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
	if m.Dropped == nil {
		m.Dropped = []Dropped{}
	}
	m.computeTotals()
	m.DurationMS = time.Since(created).Milliseconds()
	m.Warnings = warnings(m)

	res := &Result{Dir: opts.Dir, Manifest: m, Plan: plan}
	if err := res.writeMeta(fctx, tr, opts.Redactor); err != nil {
		return nil, err
	}
	return res, nil
}

// metaFiles are the files the engine writes at the top of the tree.
var metaFiles = []string{"manifest.json", "report.txt", "index.html", "trace.json", "troubleshooting.md"}

// writeMeta writes manifest.json, report.txt, index.html and trace.json. They
// quote command lines and error messages, so they are written to a scratch
// directory and leak-scanned there before they are moved into the tree.
func (r *Result) writeMeta(ctx context.Context, tr *tracer, red *redact.Redactor) error {
	scratch, err := os.MkdirTemp(r.Dir, ".meta-")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.RemoveAll(scratch)
	m := r.Manifest
	for _, write := range []func() error{
		func() error { return writeJSON(scratch, "manifest.json", m) },
		func() error { return writeFileAtomic(filepath.Join(scratch, "report.txt"), []byte(m.Report())) },
		func() error { return writeIndex(scratch, m) },
		func() error { return tr.write(ctx, scratch, m) },
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
	if len(m.Dropped) > 0 {
		var b int64
		for _, d := range m.Dropped {
			b += d.Bytes
		}
		w = append(w, fmt.Sprintf("%d files were cut or left out (%s) to keep the dump under --max-size", len(m.Dropped), humanBytes(b)))
	}
	if m.Totals.Truncated > 0 {
		w = append(w, fmt.Sprintf("%d collectors had output cut to --max-file-size (%s); the end (newest part) was kept", m.Totals.Truncated, humanBytes(m.Settings.MaxFileSize)))
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
