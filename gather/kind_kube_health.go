package gather

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/dumptool/dump/internal/human"
)

// KindKubeHealth writes what the plan's probe of the API server found before
// any list: /readyz?verbose to Output and, next to it, livez.txt and
// api_resources.txt (the listable types and the namespaces chosen, and why).
// It fails when the API server did not answer or a check failed, naming
// them. The kube profile plans it; it has nothing to write without the probe.
const KindKubeHealth Kind = "kube_health"

type kubeHealthKind struct{}

func (kubeHealthKind) validate(c *Collector) (string, error) { return validateKube(c) }

func (kubeHealthKind) describe(c Collector, env Env) string {
	return human.Command(kubectlArgv(c)) + " get --raw '/readyz?verbose' and '/livez?verbose', api-resources, auth can-i (asked when the plan is made)"
}

func (kubeHealthKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	k := s.env.Kube
	if k == nil {
		res.fail(FailOther, "the API server was not probed: the kube profile plans this collector")
		return
	}
	res.Source = "GET /readyz?verbose and /livez?verbose of " + k.Server
	res.Command = append(kubectlArgv(c), "get", "--raw", "/readyz?verbose")
	dir := path.Dir(c.Output)
	for rel, body := range map[string]string{c.Output: k.Readyz, path.Join(dir, "livez.txt"): k.Livez} {
		if strings.TrimSpace(body) != "" {
			s.writeText(res, rel, body)
		}
	}
	if k.Unreachable == "" {
		var b strings.Builder
		fmt.Fprintf(&b, "context: %s\nserver: %s\nnamespaces: %s (%s)\n", k.Context, k.Server, k.namespaceList(), k.NamespacesWhy)
		if k.Discovery != "" {
			fmt.Fprintf(&b, "discovery was partial: %s\n", k.Discovery)
		}
		fmt.Fprintf(&b, "\nlistable namespaced types (%d):\n  %s\n", len(k.Namespaced), strings.Join(k.Namespaced, "\n  "))
		fmt.Fprintf(&b, "\nlistable cluster-scoped types (%d):\n  %s\n", len(k.ClusterScoped), strings.Join(k.ClusterScoped, "\n  "))
		s.writeText(res, path.Join(dir, "api_resources.txt"), b.String())
	}
	if sum := k.Summary(); sum != "" {
		res.fail(FailAPIUnreachable, strings.TrimPrefix(sum, "kube: "))
	}
}

func (k *KubeCluster) namespaceList() string {
	if k.AllNamespaces {
		return "all"
	}
	return strings.Join(k.Namespaces, ", ")
}

// writeText writes text to rel through the redactor.
func (s *runState) writeText(res *CollectorResult, rel, text string) {
	tb, err := s.stream(rel, strings.NewReader(strings.TrimRight(text, "\n")+"\n"), s.opts.MaxFileSize)
	if err == nil {
		err = s.writeOutput(res, rel, tb, false)
	}
	if err != nil {
		res.fail(FailOther, err.Error())
	}
}
