// Package gather collects a support dump: it runs the collectors of the
// selected profiles (commands, file copies, journals, HTTP endpoints, the host
// census) into a categorized tree, redacting every byte on the way, and writes
// manifest.json, report.txt, index.html and trace.json next to the data.
//
// Collectors are data (see Collector). Run executes them on a bounded worker
// pool; every command runs in its own process group under its own deadline and
// the run's overall timeout, and is killed as a group when either expires. A
// failure never stops the run: it is recorded in the manifest and summarized at
// the end, so a dump is always written.
//
//	res, err := gather.Run(ctx, gather.Options{Dir: dir, UUID: id, Redactor: r})
//	if err != nil { ... nothing usable was written ... }
//	fmt.Fprint(os.Stderr, res.Summary())
//	if res.Incomplete() { ... exit 3 ... }
package gather

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dumptool/dump/gather/redact"
)

// Options configure a gather run. Zero values take the defaults below.
type Options struct {
	Dir              string        // tree root to write (created 0700)
	UUID             string        // the dump's id, recorded in the manifest
	ToolVersion      string        // recorded in the manifest
	Sysroot          string        // "" or "/" = live host; otherwise files are read under it
	Profiles         []string      // host, k3s, teleport, kube, auto (default auto)
	SpecFiles        []string      // --spec FILE.yaml: extra collectors
	Since            time.Duration // window for journals and copies marked Since; default 24h
	Timeout          time.Duration // whole run; default 10m
	CollectorTimeout time.Duration // per collector unless it sets its own; default 60s
	MaxFileSize      int64         // per output file, the tail is kept; default 8 MiB
	MaxSize          int64         // whole-dump budget; default 1 GiB
	Concurrency      int           // collectors running at once; default 8
	NoCloudDetect    bool          // census: do not ask cloud metadata endpoints
	DiagAddr         string        // Teleport diag endpoint; default from teleport.yaml
	Kube             KubeTarget    // kubectl's cluster and namespaces for the kube profile
	Redactor         *redact.Redactor
	Progress         Progress // nil = silent
	// Outcomes are results of work done outside this run (the node parts of
	// a cluster dump), reported in the manifest, report and exit status
	// like the collectors' own.
	Outcomes []CollectorResult
}

// Progress receives events while a run goes. Started and Finished are called
// from worker goroutines, concurrently; the receiver serializes its output.
type Progress interface {
	Started(c Collector, source string) // source says in one line what c reads
	Finished(c Collector, r CollectorResult)
	Notef(format string, args ...any) // one human line, e.g. "detected: teleport (found /etc/teleport.yaml)"
}

// Defaults applied by Run and NewPlan to zero fields of Options.
const (
	DefaultSince            = 24 * time.Hour
	DefaultTimeout          = 10 * time.Minute
	DefaultCollectorTimeout = 60 * time.Second
	DefaultMaxFileSize      = 8 << 20
	DefaultMaxSize          = 1 << 30
	DefaultConcurrency      = 8
	defaultPriority         = 50
)

// TroubleshootingDoc is where the report points for each kind of failure
// (with #<kind> appended): the copy of docs/troubleshooting.md written at the
// top of every dump. A vendor build may set it to a URL with -ldflags -X.
var TroubleshootingDoc = "troubleshooting.md"

func (o Options) withDefaults() (Options, error) {
	if o.Sysroot == "" {
		o.Sysroot = "/"
	}
	root, err := filepath.Abs(o.Sysroot)
	if err != nil {
		return o, fmt.Errorf("sysroot %s: %w", o.Sysroot, err)
	}
	o.Sysroot = root
	if len(o.Profiles) == 0 {
		o.Profiles = []string{"auto"}
	}
	if o.Since <= 0 {
		o.Since = DefaultSince
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CollectorTimeout <= 0 {
		o.CollectorTimeout = DefaultCollectorTimeout
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Progress == nil {
		o.Progress = silent{}
	}
	return o, nil
}

func (o Options) validate() error {
	if o.Dir == "" {
		return errors.New("gather: no output directory given")
	}
	if o.Redactor == nil {
		return errors.New("gather: no redactor given; refusing to collect unredacted data")
	}
	return nil
}

type silent struct{}

func (silent) Started(Collector, string)           {}
func (silent) Finished(Collector, CollectorResult) {}
func (silent) Notef(string, ...any)                {}
