package gather

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dumptool/dump/gather/redact"
	"github.com/dumptool/dump/internal/human"
)

// How many containers one kube_logs collector reads at once, and at most. A
// cluster can run thousands of pods: the cap bounds the dump and the load on
// the API server, and the newest pods, the likeliest to matter, go first.
var (
	kubeLogsConcurrency   = 4
	kubeLogsMaxContainers = 200
)

// maxPodList bounds the pod listing held in memory (some 100 bytes a pod).
const maxPodList = 16 << 20

// podListTemplate makes `kubectl get pods` print a line per pod: created,
// namespace, name, init containers and containers (each name followed by a
// comma), separated by tabs.
const podListTemplate = `jsonpath={range .items[*]}{.metadata.creationTimestamp}{"\t"}{.metadata.namespace}{"\t"}{.metadata.name}{"\t"}` +
	`{range .spec.initContainers[*]}{.name}{","}{end}{"\t"}{range .spec.containers[*]}{.name}{","}{end}{"\n"}{end}`

// kubeName is a Kubernetes object name (DNS-1123): safe in a file name, and
// without "_", so the parts of kubectl_logs_<ns>_<pod>_<container> stay apart.
var kubeName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// kubeContainer is one container whose logs are read.
type kubeContainer struct{ namespace, pod, name string }

func (k kubeContainer) String() string { return k.namespace + "/" + k.pod + "/" + k.name }

// kubectlArgv is how a kube_logs collector calls kubectl.
func kubectlArgv(c Collector) []string {
	if len(c.Command) > 0 {
		return c.Command
	}
	return []string{"kubectl"}
}

// kubeSince is --since for kubectl logs, in whole seconds ("86400s").
func kubeSince(d time.Duration) string {
	return fmt.Sprintf("--since=%ds", max(1, int64(d.Round(time.Second)/time.Second)))
}

// KindKubeLogs lists the pods of Namespace (all when empty) and writes each
// container's logs within --since, with timestamps, to
// Output/kubectl_logs_<ns>_<pod>_<container>.log. Command says how to call
// kubectl (default kubectl).
const KindKubeLogs Kind = "kube_logs"

// kubeLogs makes the kube_logs collector of the kube and k3s profiles, with
// kubectl run as argv (default kubectl). Both profiles give it the same name
// and output, so with both detected the plan keeps the first and runs it once.
func kubeLogs(prio int, namespace string, kubectl ...string) Collector {
	return Collector{
		Name:      "kube-logs",
		Category:  "kube",
		Kind:      KindKubeLogs,
		Command:   kubectl,
		Namespace: namespace,
		Output:    "kube",
		Priority:  prio,
		Timeout:   Duration(5 * time.Minute), // many containers, 4 at a time
	}
}

type kubeLogsKind struct{}

func (kubeLogsKind) validate(c *Collector) (string, error) {
	if len(c.Command) > 0 && c.Command[0] == "" {
		return "command", fmt.Errorf("command %q: the first word must be kubectl or what runs it", c.Command)
	}
	if c.Namespace != "" && !kubeName.MatchString(c.Namespace) {
		return "namespace", fmt.Errorf("namespace %q is not a Kubernetes name", c.Namespace)
	}
	return "", nil
}

func (kubeLogsKind) describe(c Collector, env Env) string {
	ns := "all namespaces"
	if c.Namespace != "" {
		ns = "namespace " + c.Namespace
	}
	return fmt.Sprintf("%s logs --timestamps %s of each container of the pods in %s (at most %d, %d at a time)",
		human.Command(kubectlArgv(c)), kubeSince(env.Since), ns, kubeLogsMaxContainers, kubeLogsConcurrency)
}

// run lists the pods, then reads every container's logs within --since, with
// timestamps, a few at a time, each as a "run" of kubectl logs with its own
// file and .error file. A container that fails is noted; the collector fails
// only when all do.
func (kubeLogsKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	kubectl := kubectlArgv(c)
	scope := []string{"-A"}
	res.Source = "pods in all namespaces"
	if c.Namespace != "" {
		scope = []string{"-n", c.Namespace}
		res.Source = "pods in namespace " + c.Namespace
	}
	list := slices.Concat(kubectl, []string{"get", "pods"}, scope, []string{"-o", podListTemplate})
	res.Command = list
	errRel := path.Join(c.Output, "kubectl_logs.error")
	var raw []byte
	stderr, p, err := s.executeTo(ctx, list, errRel, s.fileCap(c), func(r io.Reader) (err error) {
		raw, err = io.ReadAll(io.LimitReader(r, maxPodList))
		return err
	})
	lister := Collector{Command: list, Output: errRel, Optional: c.Optional}
	if err != nil {
		s.commandMissing(lister, res, err)
		return
	}
	s.finishCommand(ctx, lister, res, stderr, p, errRel)
	if res.Status != StatusOK {
		return
	}

	var notes []string
	containers, bad := parsePodList(raw)
	if len(raw) >= maxPodList {
		notes = append(notes, fmt.Sprintf("the pod list was cut at %s", human.Bytes(maxPodList)))
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("%d pod lines not understood", bad))
	}
	if n := len(containers); n > kubeLogsMaxContainers {
		notes = append(notes, fmt.Sprintf("%d of %d containers left out (at most %d, newest pods first)", n-kubeLogsMaxContainers, n, kubeLogsMaxContainers))
		containers = containers[:kubeLogsMaxContainers]
	}

	since := kubeSince(s.opts.Since)
	subs := make([]CollectorResult, len(containers))
	var g errgroup.Group
	g.SetLimit(kubeLogsConcurrency)
	started := 0
	for i, k := range containers {
		if ctx.Err() != nil {
			break
		}
		started++
		g.Go(func() error {
			sub := Collector{
				Name:    c.Name,
				Command: slices.Concat(kubectl, []string{"logs", "-n", k.namespace, k.pod, "-c", k.name, "--timestamps", since}),
				Output:  path.Join(c.Output, "kubectl_logs_"+k.namespace+"_"+k.pod+"_"+k.name+".log"),
				MaxSize: c.MaxSize,
			}
			subs[i] = CollectorResult{Name: c.Name, Redactions: redact.Counts{}, Status: StatusOK}
			s.runCommand(ctx, sub, &subs[i])
			return nil
		})
	}
	g.Wait()

	var failed []string
	var kind FailureKind
	for i, sub := range subs[:started] {
		res.Outputs = append(res.Outputs, sub.Outputs...)
		if sub.ErrorFile != "" {
			res.Outputs = append(res.Outputs, sub.ErrorFile)
		}
		res.Bytes += sub.Bytes
		res.Truncated = res.Truncated || sub.Truncated
		res.Redactions.Add(sub.Redactions)
		if sub.Failed() {
			failed = append(failed, fmt.Sprintf("%s: %s", containers[i], cmp.Or(sub.Error, "timed out")))
			kind = cmp.Or(kind, sub.FailureKind)
		}
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.fail(FailTimeout, "") // runTask words it
	case ctx.Err() != nil:
		res.fail(FailOther, "canceled")
	case len(failed) > 0 && len(failed) == started:
		res.fail(kind, fmt.Sprintf("the logs of all %d containers failed: %s", started, firstFew(failed)))
	case len(failed) > 0:
		notes = append([]string{fmt.Sprintf("the logs of %d of %d containers failed: %s", len(failed), started, firstFew(failed))}, notes...)
	}
	if res.Status == StatusOK {
		res.Error = strings.Join(notes, "; ")
	}
}

// firstFew joins the first few of a list, saying how many more there are.
func firstFew(l []string) string {
	const few = 5
	if len(l) <= few {
		return strings.Join(l, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(l[:few], "; "), len(l)-few)
}

// parsePodList reads the output of podListTemplate into the containers of
// the pods, newest pods first, init containers before the others. bad counts
// the lines that are not a pod with proper names.
func parsePodList(raw []byte) (cs []kubeContainer, bad int) {
	type pod struct {
		created    string
		containers []kubeContainer
	}
	var pods []pod
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 || !kubeName.MatchString(f[1]) || !kubeName.MatchString(f[2]) {
			bad++
			continue
		}
		p := pod{created: f[0]}
		for _, name := range strings.Split(f[3]+f[4], ",") {
			if name == "" {
				continue
			}
			if !kubeName.MatchString(name) {
				bad++
				continue
			}
			p.containers = append(p.containers, kubeContainer{namespace: f[1], pod: f[2], name: name})
		}
		pods = append(pods, p)
	}
	// RFC 3339 times in UTC sort as strings.
	slices.SortStableFunc(pods, func(a, b pod) int { return strings.Compare(b.created, a.created) })
	for _, p := range pods {
		cs = append(cs, p.containers...)
	}
	return cs, bad
}
