package gather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dumptool/dump/gather/findings"
)

// ErrNotDump is returned by Analyze for a directory without manifest.json.
var ErrNotDump = errors.New("not an extracted dump (no manifest.json)")

// Analyze runs the findings again on an extracted dump in dir, so support
// gets new rules on old dumps: it rewrites findings.json, and report.txt and
// index.html, which show the findings first.
func Analyze(ctx context.Context, dir string) (*findings.Report, error) {
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotDump
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.Findings, err = analyzeTree(ctx, dir, m); err != nil {
		return nil, err
	}
	for _, write := range []func() error{
		func() error { return writeJSON(dir, "findings.json", m.findings()) },
		func() error { return writeFileAtomic(filepath.Join(dir, "report.txt"), []byte(m.Report())) },
		func() error { return writeIndex(dir, dir, m) },
	} {
		if err := write(); err != nil {
			return nil, err
		}
	}
	return m.Findings, nil
}

// analyzeTree runs the findings over the tree of a manifest: judged at the
// dump's creation, with the HTTP status of each endpoint's output.
func analyzeTree(ctx context.Context, dir string, m *Manifest) (*findings.Report, error) {
	status := map[string]int{}
	for _, c := range m.Collectors {
		for _, o := range c.Outputs {
			if c.HTTPStatus != 0 {
				status[o] = c.HTTPStatus
			}
		}
	}
	rep, err := findings.Analyze(ctx, os.DirFS(dir), findings.Options{Now: m.Created, HTTPStatus: status})
	if err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	return rep, nil
}

// findings is the report of the findings stage, empty when it did not run.
func (m *Manifest) findings() *findings.Report {
	if m.Findings == nil {
		return &findings.Report{Schema: findings.Schema, Now: m.Created, Rules: []string{}, Findings: []findings.Finding{}, Timeline: []findings.LogSeries{}}
	}
	return m.Findings
}
