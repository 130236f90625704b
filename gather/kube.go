package gather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dumptool/dump/internal/human"
)

// KubeTarget is kubectl's own choice of cluster and namespaces, as the user
// gave it (--kubeconfig, --context, --namespace, --all-namespaces).
type KubeTarget struct {
	Kubeconfig    string   // "" = kubectl's default ($KUBECONFIG, ~/.kube/config, in-cluster)
	Context       string   // "" = the kubeconfig's current context
	Namespaces    []string // gather only these
	AllNamespaces bool     // gather every namespace at once (-A)
}

// kubectl is how every kube collector calls kubectl for the target.
func (t KubeTarget) kubectl() []string {
	argv := []string{"kubectl"}
	if t.Kubeconfig != "" {
		argv = append(argv, "--kubeconfig", t.Kubeconfig)
	}
	if t.Context != "" {
		argv = append(argv, "--context", t.Context)
	}
	return argv
}

// KubeCluster is what the plan learnt from the API server before any list:
// its health, which namespaces to gather and why, and the listable types.
// A sick or unreachable control plane costs seconds here, and the kube
// collectors it plans are sized to match.
type KubeCluster struct {
	Target  KubeTarget `json:"-"`
	Context string     `json:"context,omitempty"` // the context used
	Server  string     `json:"server,omitempty"`

	// Unreachable is set when the API server did not answer at all: the
	// whole kube part is one failed collector saying this.
	Unreachable string   `json:"unreachable,omitempty"`
	Ready       bool     `json:"ready"`
	Failing     []string `json:"failing_checks,omitempty"` // "[-]etcd failed: ..." lines of /readyz or /livez
	Readyz      string   `json:"-"`                        // /readyz?verbose as answered (or kubectl's error)
	Livez       string   `json:"-"`

	AllNamespaces bool     `json:"all_namespaces"`
	Namespaces    []string `json:"namespaces,omitempty"`
	NamespacesWhy string   `json:"namespaces_why"`

	Namespaced    []string `json:"-"` // listable namespaced types (kubectl api-resources names)
	ClusterScoped []string `json:"-"`
	Discovery     string   `json:"discovery_error,omitempty"` // a partial discovery failure

	// breaker counts list calls that timed out: once a few did on a sick
	// control plane, the rest are not tried.
	mu       sync.Mutex
	timeouts int

	slotsOnce sync.Once
	slots     chan struct{}
}

// Timeouts of the plan's probes and of each kube call once the plan is made.
var (
	kubeProbeTimeout = 5 * time.Second // /readyz, /livez, can-i, api-resources
	kubeSickTimeout  = 5 * time.Second // each call on a control plane whose checks fail (else --collector-timeout)
	kubeSickGiveUp   = 2               // timed-out calls after which a sick cluster is not asked more
	kubeListParallel = 4               // list calls of one collector at once
	kubeCallsAtOnce  = 6               // kube calls of the whole run at once: kubectl is heavy, the API server shared
)

// productNamespaces are where the products dump knows live, added to the
// context's namespace when the user may not list pods cluster-wide.
var productNamespaces = map[string][]string{
	"teleport": {"teleport"},
	"k3s":      {"kube-system"},
	"kube":     {"teleport"}, // a Teleport install on Kubernetes is the common case
}

// callTimeout is the deadline of one kube call under this cluster's health:
// healthy is --collector-timeout.
func (k *KubeCluster) callTimeout(healthy time.Duration) time.Duration {
	if k == nil || k.Ready {
		return healthy
	}
	return kubeSickTimeout
}

// acquire waits for one of the run's kube call slots; release gives it back.
func (k *KubeCluster) acquire(ctx context.Context) (release func(), err error) {
	if k == nil {
		return func() {}, nil
	}
	k.slotsOnce.Do(func() { k.slots = make(chan struct{}, kubeCallsAtOnce) })
	select {
	case k.slots <- struct{}{}:
		return func() { <-k.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sick records a call that timed out and reports whether the cluster is
// known sick and has had enough tries.
func (k *KubeCluster) tripped(timedOut bool) bool {
	if k == nil || k.Ready {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if timedOut {
		k.timeouts++
	}
	return k.timeouts >= kubeSickGiveUp
}

// Summary is one line on the cluster's health for the top of the summary
// and report, or "" when it is healthy.
func (k *KubeCluster) Summary() string {
	switch {
	case k == nil:
		return ""
	case k.Unreachable != "":
		return "kube: " + k.Unreachable
	case !k.Ready:
		return fmt.Sprintf("kube: the API server %s is not healthy: %s (kube/readyz.txt); kube data is partial", k.Server, strings.Join(k.Failing, "; "))
	}
	return ""
}

// kubeconfigPath is the kubeconfig kubectl will read, and whether it exists.
// The in-cluster service account counts as one.
func kubeconfigPath(t KubeTarget) (string, bool) {
	if t.Kubeconfig != "" {
		return t.Kubeconfig, fileExists(t.Kubeconfig)
	}
	if v := os.Getenv("KUBECONFIG"); v != "" {
		for _, p := range filepath.SplitList(v) {
			if fileExists(p) {
				return p, true
			}
		}
		return v, false
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".kube", "config")
		if fileExists(p) {
			return p, true
		}
	}
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" && fileExists(sa) {
		return "the pod's service account", true
	}
	return "~/.kube/config", false
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// kubectlRun runs a short kubectl command of the plan under timeout and
// returns its stdout and stderr.
func kubectlRun(ctx context.Context, timeout time.Duration, argv ...string) (stdout, stderr string, err error) {
	argv = append(argv, fmt.Sprintf("--request-timeout=%ds", int(timeout/time.Second)))
	out, errOut, err := probeBoth(ctx, timeout+time.Second, argv...)
	return string(out), string(errOut), err
}

// failedCheck matches the failing lines of /readyz?verbose and /livez?verbose.
var failedCheck = regexp.MustCompile(`\[-\][^\n\\"]*`)

// probeKube asks the API server of t, within seconds, whether it is healthy,
// what the user may see and what can be listed. products are the detected
// or requested profiles, for the namespaces they use.
func probeKube(ctx context.Context, t KubeTarget, products []string) *KubeCluster {
	k := &KubeCluster{Target: t}
	kubectl := t.kubectl()
	cfg, _, _ := kubectlRun(ctx, kubeProbeTimeout, append(kubectl, "config", "view", "--minify", "-o",
		`jsonpath={.current-context}{"\t"}{.clusters[0].cluster.server}{"\t"}{.contexts[0].context.namespace}`)...)
	f := strings.Split(cfg, "\t")
	for len(f) < 3 {
		f = append(f, "")
	}
	k.Context, k.Server = f[0], f[1]
	ctxNamespace := f[2]
	if ctxNamespace == "" {
		ctxNamespace = "default"
	}

	var wg sync.WaitGroup
	var livezErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		k.Livez, livezErr = healthz(ctx, kubectl, "/livez?verbose")
	}()
	var readyzErr error
	k.Readyz, readyzErr = healthz(ctx, kubectl, "/readyz?verbose")
	wg.Wait()
	for _, body := range []string{k.Readyz, k.Livez} {
		for _, m := range failedCheck.FindAllString(body, -1) {
			if m = strings.TrimSpace(m); !slices.Contains(k.Failing, m) {
				k.Failing = append(k.Failing, m)
			}
		}
	}
	k.Ready = readyzErr == nil && livezErr == nil
	if errors.Is(readyzErr, errNotFound) {
		k.Unreachable = "kubectl is not installed: install it or add its directory to PATH"
		return k
	}
	if readyzErr != nil && len(k.Failing) == 0 {
		// No check list: kubectl never got an answer.
		where := k.Server
		if where == "" {
			where = "of context " + k.Context
		}
		k.Unreachable = fmt.Sprintf("the API server %s did not answer /readyz: %v; check the kubeconfig, --context, and that the control plane runs",
			where, readyzErr)
		return k
	}

	var namespaced, cluster string
	var discNS, discCluster error
	wg.Add(2)
	go func() {
		defer wg.Done()
		namespaced, _, discNS = kubectlRun(ctx, kubeProbeTimeout, append(kubectl, "api-resources", "--verbs=list", "--namespaced=true", "-o", "name")...)
	}()
	go func() {
		defer wg.Done()
		cluster, _, discCluster = kubectlRun(ctx, kubeProbeTimeout, append(kubectl, "api-resources", "--verbs=list", "--namespaced=false", "-o", "name")...)
	}()
	k.chooseNamespaces(ctx, ctxNamespace, products)
	wg.Wait()
	notName := func(r string) bool { return !kubeName.MatchString(r) }
	k.Namespaced = slices.DeleteFunc(strings.Fields(namespaced), notName)
	k.ClusterScoped = slices.DeleteFunc(strings.Fields(cluster), notName)
	if err := errors.Join(discNS, discCluster); err != nil {
		// Partial discovery (an aggregated API down) still lists the rest.
		k.Discovery = err.Error()
	}
	return k
}

// healthz GETs a health endpoint through kubectl. kubectl prints the body of
// a failing check list inside its error message; it is returned either way.
func healthz(ctx context.Context, kubectl []string, path string) (string, error) {
	out, errOut, err := kubectlRun(ctx, kubeProbeTimeout, append(slices.Clone(kubectl), "get", "--raw", path)...)
	if err == nil {
		return out, nil
	}
	// Error from server (InternalError): an error on the server ("[+]ping ok\n...") has prevented ...
	body := errOut
	if _, quoted, ok := strings.Cut(errOut, `("`); ok {
		if i := strings.LastIndex(quoted, `")`); i >= 0 {
			body = strings.ReplaceAll(quoted[:i], `\n`, "\n")
		}
	}
	if l := lastLine(errOut); l != "" {
		err = errors.New(l)
	}
	return strings.TrimSpace(out + "\n" + body), err
}

// chooseNamespaces applies --all-namespaces and --namespace, or else picks all
// namespaces when the user may list pods cluster-wide, or else the context's
// namespace plus the products' namespaces the user may read.
func (k *KubeCluster) chooseNamespaces(ctx context.Context, ctxNamespace string, products []string) {
	t, kubectl := k.Target, k.Target.kubectl()
	switch {
	case t.AllNamespaces:
		k.AllNamespaces, k.NamespacesWhy = true, "--all-namespaces"
		return
	case len(t.Namespaces) > 0:
		k.Namespaces, k.NamespacesWhy = slices.Compact(slices.Sorted(slices.Values(t.Namespaces))), "--namespace"
		return
	}
	canI := func(args ...string) bool {
		out, _, _ := kubectlRun(ctx, kubeProbeTimeout, slices.Concat(kubectl, []string{"auth", "can-i", "list", "pods"}, args)...)
		return strings.TrimSpace(out) == "yes"
	}
	if canI("-A") {
		k.AllNamespaces, k.NamespacesWhy = true, "the user may list pods in all namespaces (kubectl auth can-i list pods -A)"
		return
	}
	k.Namespaces = []string{ctxNamespace}
	why := []string{fmt.Sprintf("%s is the context's namespace", ctxNamespace)}
	for _, p := range products {
		for _, ns := range productNamespaces[p] {
			if slices.Contains(k.Namespaces, ns) {
				continue
			}
			_, errOut, _ := kubectlRun(ctx, kubeProbeTimeout, append(slices.Clone(kubectl), "get", "namespace", ns, "-o", "name")...)
			if strings.Contains(errOut, "NotFound") || !canI("-n", ns) {
				continue
			}
			k.Namespaces = append(k.Namespaces, ns)
			why = append(why, fmt.Sprintf("%s is where %s runs", ns, p))
		}
	}
	k.NamespacesWhy = "the user may not list pods in all namespaces (kubectl auth can-i list pods -A): " + strings.Join(why, "; ")
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// rbacHint says how a user refused access ("list secrets", "get pods/log")
// finds out what is missing. namespace is "" for all namespaces, "-" for a
// cluster-scoped type.
func rbacHint(kubectl []string, access, namespace string) string {
	verb, resource, _ := strings.Cut(access, " ")
	scope, where := " -A", "in all namespaces"
	switch namespace {
	case "-":
		scope, where = "", "(cluster-scoped)"
	case "":
	default:
		scope, where = " -n "+namespace, "in namespace "+namespace
	}
	return fmt.Sprintf("the user may not %s %s %s; ask a cluster admin for the verb %q on %q (RBAC), check with: %s auth can-i %s %s%s",
		verb, resource, where, verb, resource, human.Command(kubectl), verb, resource, scope)
}

// sickReason says why calls to a sick control plane were given up.
func (k *KubeCluster) sickReason() string {
	if k == nil {
		return "earlier calls timed out"
	}
	return fmt.Sprintf("the API server is not healthy (%s) and %d calls timed out", strings.Join(k.Failing, "; "), kubeSickGiveUp)
}

// Note is one progress line on what the kube profile will gather.
func (k *KubeCluster) Note() string {
	if sum := k.Summary(); sum != "" {
		return sum
	}
	return fmt.Sprintf("kube: context %s at %s: namespaces %s (%s)", k.Context, k.Server, k.namespaceList(), k.NamespacesWhy)
}

// validateKube checks the fields the kube kinds share.
func validateKube(c *Collector) (string, error) {
	if len(c.Command) > 0 && c.Command[0] == "" {
		return "command", fmt.Errorf("command %q: the first word must be kubectl or what runs it", c.Command)
	}
	if c.Namespace != "" && !kubeName.MatchString(c.Namespace) {
		return "namespace", fmt.Errorf("namespace %q is not a Kubernetes name", c.Namespace)
	}
	for _, r := range c.Resources {
		if !kubeName.MatchString(r) {
			return "resources", fmt.Errorf("resource %q is not a Kubernetes type name (kubectl api-resources -o name)", r)
		}
	}
	return "", nil
}

// IsKubeName reports whether s is a valid Kubernetes object name (DNS-1123).
func IsKubeName(s string) bool { return kubeName.MatchString(s) }
