package gather

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind names how a collector gets its data: "run", "copy", "journal",
// "http", "census", "kube_logs", "kube_get", "kube_secrets" or "kube_health". Each kind lives in one file, kind_<name>.go:
// its constant, the helper profiles use to make one, and its kind value.
type Kind string

// kind is what a kind of collector does: check a collector of its kind, say in
// one line what it reads, and gather it into the tree.
type kind interface {
	// validate checks the fields the kind uses (and fills in its defaults); it
	// returns the field at fault with the error.
	validate(c *Collector) (field string, err error)
	// describe says what c reads, for --dry-run and --verbose.
	describe(c Collector, env Env) string
	// run gathers c, recording the outcome in res. It stops when ctx ends.
	run(ctx context.Context, s *runState, c Collector, res *CollectorResult)
}

// kinds is every kind a collector can have.
var kinds = map[Kind]kind{
	KindRun:         runKind{},
	KindCopy:        copyKind{},
	KindJournal:     journalKind{},
	KindHTTP:        httpKind{},
	KindCensus:      censusKind{},
	KindKubeLogs:    kubeLogsKind{},
	KindKubeGet:     kubeGetKind{},
	KindKubeSecrets: kubeSecretsKind{},
	KindKubeHealth:  kubeHealthKind{},
}

// kindNames lists the kinds for messages: "census, copy, ... or run".
func kindNames() string {
	names := slices.Sorted(maps.Keys(kinds))
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Collector is one named task of a profile. Collectors are data: profiles are
// lists of them and users add their own with --spec FILE.yaml (same schema).
type Collector struct {
	Name      string   `yaml:"name" json:"name"`
	Category  string   `yaml:"category" json:"category"` // system, nodes, objects, systemd, kube, k3s, ...
	Kind      Kind     `yaml:"kind" json:"kind"`
	Command   []string `yaml:"command,omitempty" json:"command,omitempty"`     // see KindRun, KindKubeLogs
	Paths     []string `yaml:"paths,omitempty" json:"paths,omitempty"`         // see KindCopy
	Unit      string   `yaml:"unit,omitempty" json:"unit,omitempty"`           // see KindJournal
	URL       string   `yaml:"url,omitempty" json:"url,omitempty"`             // see KindHTTP
	Namespace string   `yaml:"namespace,omitempty" json:"namespace,omitempty"` // see KindKubeLogs, KindKubeGet, KindKubeSecrets
	Resources []string `yaml:"resources,omitempty" json:"resources,omitempty"` // see KindKubeGet
	// Output is the path in the dump tree, relative, slash-separated. "{host}"
	// expands to the host id. For run/http it is a file (stderr goes to the same
	// name with its extension replaced by ".error"); for copy, journal and
	// kube_logs a directory.
	Output   string   `yaml:"output" json:"output"`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`   // 0 = the run's --collector-timeout
	MaxSize  int64    `yaml:"max_size,omitempty" json:"max_size,omitempty"` // per output file; 0 = --max-file-size; the tail is kept
	Priority int      `yaml:"priority,omitempty" json:"priority,omitempty"` // under the --max-size budget, lower goes first (default 50)
	Since    bool     `yaml:"since,omitempty" json:"since,omitempty"`       // copy: only files modified within --since
	Optional bool     `yaml:"optional,omitempty" json:"optional,omitempty"` // a missing source/binary is recorded as skipped, not failed
}

// Profile is a named list of collectors.
type Profile struct {
	Name        string
	Description string
	Collectors  []Collector
}

// Duration is a time.Duration written as "30s" in YAML and JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 2m): %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// Env is what profiles and collectors know about the host being gathered.
type Env struct {
	Sysroot       string // "/" for the live host; files are read under it and journalctl gets --directory
	HostID        string // nodes/<host-id>/, systemd/<host-id>/
	HostIDSource  string // where HostID came from: "teleport host_uuid", "machine-id", "hostname hash"
	Since         time.Duration
	DiagAddr      string // Teleport diag endpoint (host:port) from --diag-addr or teleport.yaml
	NoCloudDetect bool
	KubeTarget    KubeTarget   // kubectl's --kubeconfig, --context, --namespace, --all-namespaces
	Kube          *KubeCluster // the API server as probed by the plan when the kube profile runs
}

// Detection says that a profile applies to this host, and why.
type Detection struct {
	Profile string `json:"profile"`
	Reason  string `json:"reason"`
}

// validate checks a collector and returns the offending field with the error.
func (c *Collector) validate() (field string, err error) {
	if c.Name == "" {
		return "name", errors.New("collector without a name")
	}
	k, ok := kinds[c.Kind]
	if !ok {
		if c.Kind == "" {
			return "name", fmt.Errorf("collector %q: no kind (%s)", c.Name, kindNames())
		}
		return "kind", fmt.Errorf("collector %q: unknown kind %q (%s)", c.Name, c.Kind, kindNames())
	}
	if field, err := k.validate(c); err != nil {
		return field, fmt.Errorf("collector %q: %w", c.Name, err)
	}
	switch {
	case c.Output == "":
		return "name", fmt.Errorf("collector %q: no output path", c.Name)
	case checkOutput(c.Output) != nil:
		return "output", fmt.Errorf("collector %q: output %q: %v", c.Name, c.Output, checkOutput(c.Output))
	case c.Timeout < 0:
		return "timeout", fmt.Errorf("collector %q: negative timeout", c.Name)
	case c.MaxSize < 0:
		return "max_size", fmt.Errorf("collector %q: negative max_size", c.Name)
	}
	return "", nil
}

// checkOutput allows relative, clean, slash-separated paths inside the tree.
func checkOutput(o string) error {
	switch {
	case strings.HasPrefix(o, "/"):
		return errors.New("must be relative to the dump tree")
	case strings.Contains(o, `\`):
		return errors.New("use / as separator")
	case o == ".." || strings.HasPrefix(o, "../") || strings.Contains(o, "/../") || strings.HasSuffix(o, "/.."):
		return errors.New(`must not contain ".."`)
	case path.Clean(o) != o || o == ".":
		return errors.New("must be a clean path (no //, ./ or trailing /)")
	case slices.Contains(metaFiles, o):
		return errors.New("is written by dump itself")
	}
	return nil
}

// expand fills in {host} and the defaults of a collector.
func expand(c Collector, env Env) Collector {
	r := strings.NewReplacer("{host}", env.HostID)
	c.Output = r.Replace(c.Output)
	c.URL = r.Replace(c.URL)
	c.Paths = slices.Clone(c.Paths)
	for i := range c.Paths {
		c.Paths[i] = r.Replace(c.Paths[i])
	}
	c.Command = slices.Clone(c.Command)
	for i := range c.Command {
		c.Command[i] = r.Replace(c.Command[i])
	}
	if c.Category == "" {
		c.Category = "other"
	}
	if c.Priority == 0 {
		c.Priority = defaultPriority
	}
	return c
}

// describe says in one line what c reads on the host of env, as --dry-run
// and --verbose show it.
func describe(c Collector, env Env) string {
	k, ok := kinds[c.Kind]
	if !ok {
		return string(c.Kind)
	}
	s := k.describe(c, env)
	if c.Optional {
		s += " [optional]"
	}
	return s
}
