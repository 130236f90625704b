package gather

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind says how a collector gets its data.
type Kind string

const (
	KindRun     Kind = "run"     // run a command; stdout to Output, stderr to the .error file
	KindCopy    Kind = "copy"    // copy files or globs (under the sysroot) into Output (a directory, or a file for one source)
	KindJournal Kind = "journal" // journalctl -u Unit within --since -> Output/log.txt (-o short-iso) and Output/log.json (-o json)
	KindHTTP    Kind = "http"    // GET URL -> Output
	KindCensus  Kind = "census"  // host facts -> census.json
	// KindKubeLogs lists the pods of Namespace (all when empty) and writes each
	// container's logs within --since, with timestamps, to
	// Output/kubectl_logs_<ns>_<pod>_<container>.log.
	KindKubeLogs Kind = "kube_logs"
	// KindKubeGet writes `kubectl get <type> -o yaml` of each of Resources in
	// Namespace (all when empty) to Output/kubectl_get_<type>.yaml.
	KindKubeGet Kind = "kube_get"
	// KindKubeSecrets writes the Secrets of Namespace without their values,
	// and the Helm releases stored in them, to Output/.
	KindKubeSecrets Kind = "kube_secrets"
	// KindKubeHealth writes the plan's probe of the API server to Output/.
	KindKubeHealth Kind = "kube_health"
)

// Collector is one named task of a profile. Collectors are data: profiles are
// lists of them and users add their own with --spec FILE.yaml (same schema).
type Collector struct {
	Name      string   `yaml:"name" json:"name"`
	Category  string   `yaml:"category" json:"category"` // system, nodes, objects, systemd, kube, k3s, ...
	Kind      Kind     `yaml:"kind" json:"kind"`
	Command   []string `yaml:"command,omitempty" json:"command,omitempty"`     // run: argv, argv[0] looked up in PATH; kube_logs: how to call kubectl (default kubectl)
	Paths     []string `yaml:"paths,omitempty" json:"paths,omitempty"`         // copy: files or globs, read under the sysroot
	Unit      string   `yaml:"unit,omitempty" json:"unit,omitempty"`           // journal: the systemd unit
	URL       string   `yaml:"url,omitempty" json:"url,omitempty"`             // http: the endpoint
	Namespace string   `yaml:"namespace,omitempty" json:"namespace,omitempty"` // kube_*: which namespace; empty = all namespaces
	Resources []string `yaml:"resources,omitempty" json:"resources,omitempty"` // kube_get: the types to list (kubectl api-resources names)
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
