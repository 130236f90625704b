package gather

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/dumptool/dump/gather/findings"
	"github.com/dumptool/dump/gather/redact"
	"github.com/google/renameio/v2"
)

// ManifestSchema is the version of manifest.json's layout.
const ManifestSchema = 1

// Status is how a collector ended.
type Status string

const (
	StatusOK       Status = "ok"
	StatusFailed   Status = "failed"
	StatusTimedOut Status = "timed_out"
	StatusSkipped  Status = "skipped" // optional collector whose source or binary is absent
)

// CollectorResult is what one collector did: one entry of manifest.json.
type CollectorResult struct {
	Name        string        `json:"name"`
	Category    string        `json:"category"`
	Kind        Kind          `json:"kind"`
	Profile     string        `json:"profile"`
	Command     []string      `json:"command,omitempty"`
	Source      string        `json:"source,omitempty"`  // copy paths, journal unit or URL
	Outputs     []string      `json:"outputs,omitempty"` // files written, relative to the tree root
	ErrorFile   string        `json:"error_file,omitempty"`
	Status      Status        `json:"status"`
	ExitCode    *int          `json:"exit_code,omitempty"`
	HTTPStatus  int           `json:"http_status,omitempty"`
	Started     time.Time     `json:"started"`
	DurationMS  int64         `json:"duration_ms"`
	Bytes       int64         `json:"bytes"`
	Truncated   bool          `json:"truncated"`
	TimedOut    bool          `json:"timed_out"`
	Redactions  redact.Counts `json:"redactions,omitempty"`
	Error       string        `json:"error,omitempty"`
	FailureKind FailureKind   `json:"failure_kind,omitempty"`
	Skipped     []SkippedFile `json:"skipped,omitempty"`          // copy: files deliberately not copied
	OlderFiles  int           `json:"older_than_since,omitempty"` // copy: files left out by --since
	Notes       []string      `json:"notes,omitempty"`            // facts that are not failures, e.g. a container that never started and why
	Priority    int           `json:"priority"`

	pgid      int          // the command's process group, for tests
	abandoned *atomic.Bool // set when the run stopped waiting for this collector

	skippedMore int // files left out but not listed in Skipped
}

// Failed reports whether the collector failed or timed out.
func (r CollectorResult) Failed() bool { return r.Status == StatusFailed || r.Status == StatusTimedOut }

// SkippedFile is a source file a copy collector did not copy, and why.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Dropped is an output removed or cut to keep the dump under --max-size.
type Dropped struct {
	Path      string `json:"path"`
	Collector string `json:"collector"`
	Bytes     int64  `json:"bytes"`  // bytes removed
	Action    string `json:"action"` // "deleted" or "truncated"
	Reason    string `json:"reason"`
}

// Settings are the options the run used, for support to know the windows.
type Settings struct {
	Since            string   `json:"since"`
	Timeout          string   `json:"timeout"`
	CollectorTimeout string   `json:"collector_timeout"`
	MaxFileSize      int64    `json:"max_file_size"`
	MaxSize          int64    `json:"max_size"`
	Concurrency      int      `json:"concurrency"`
	SpecFiles        []string `json:"spec_files,omitempty"`
	Root             bool     `json:"root"` // gathered as root
}

// Totals sum up the collectors.
type Totals struct {
	Collectors int           `json:"collectors"`
	OK         int           `json:"ok"`
	Failed     int           `json:"failed"`
	TimedOut   int           `json:"timed_out"`
	Skipped    int           `json:"skipped"`
	Truncated  int           `json:"truncated"`
	Files      int           `json:"files"`
	Bytes      int64         `json:"bytes"`
	Redactions redact.Counts `json:"redactions"`
}

// Manifest is manifest.json: the machine-readable record of a dump.
type Manifest struct {
	Schema       int               `json:"schema"`
	ToolVersion  string            `json:"tool_version"`
	UUID         string            `json:"uuid"`
	Created      time.Time         `json:"created"`
	DurationMS   int64             `json:"duration_ms"`
	HostID       string            `json:"host_id"`
	HostIDSource string            `json:"host_id_source"`
	Sysroot      string            `json:"sysroot"`
	Requested    []string          `json:"requested_profiles"`
	Profiles     []string          `json:"profiles"`
	Detections   []Detection       `json:"detections"`
	Census       *CensusInfo       `json:"census,omitempty"`
	Kube         *KubeCluster      `json:"kube,omitempty"` // the API server's health and the namespaces gathered, and why
	Settings     Settings          `json:"settings"`
	Warnings     []string          `json:"warnings"`
	Collectors   []CollectorResult `json:"collectors"`
	Dropped      []Dropped         `json:"dropped"`
	Scan         *ScanSummary      `json:"scan,omitempty"`
	Totals       Totals            `json:"totals"`

	Findings *findings.Report `json:"-"` // findings.json
}

// ScanSummary is the outcome of the leak scan over the finished tree: secrets
// the collectors' redaction missed, which the scan redacted in place.
type ScanSummary struct {
	FilesScanned int       `json:"files_scanned"`
	Fixed        []ScanFix `json:"fixed"`
}

// ScanFix is one secret the leak scan found and redacted.
type ScanFix struct {
	File string `json:"file"`
	Kind string `json:"kind"`
	Line int    `json:"line"`
}

func scanSummary(r redact.ScanReport) *ScanSummary {
	s := &ScanSummary{FilesScanned: r.FilesScanned, Fixed: []ScanFix{}}
	for _, l := range r.Fixed {
		s.Fixed = append(s.Fixed, ScanFix{File: filepath.ToSlash(l.File), Kind: l.Kind, Line: l.Line})
	}
	return s
}

func (m *Manifest) computeTotals() {
	t := Totals{Redactions: redact.Counts{}}
	for _, r := range m.Collectors {
		t.Collectors++
		switch r.Status {
		case StatusOK:
			t.OK++
		case StatusFailed:
			t.Failed++
		case StatusTimedOut:
			t.TimedOut++
		case StatusSkipped:
			t.Skipped++
		}
		if r.Truncated {
			t.Truncated++
		}
		t.Files += len(r.Outputs)
		t.Bytes += r.Bytes
		t.Redactions.Add(r.Redactions)
	}
	m.Totals = t
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", dir, err)
	}
	return &m, nil
}

func writeJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return writeFileAtomic(filepath.Join(dir, name), append(b, '\n'))
}

// writeFileAtomic replaces a file (0600) by rename, so a reader never sees
// half of it. The temporary file is made beside it, inside the tree.
func writeFileAtomic(path string, b []byte) error {
	if err := renameio.WriteFile(path, b, 0o600, renameio.WithTempDir(filepath.Dir(path))); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
