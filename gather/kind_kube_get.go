package gather

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/dumptool/dump/gather/redact"
	"github.com/dumptool/dump/internal/human"
)

// KindKubeGet lists each of Resources (kubectl api-resources names) in
// Namespace (all namespaces with -A when empty; cluster-scoped types once),
// `kubectl get <type> -o yaml`, a few at once, each under its own deadline,
// into Output/kubectl_get_<type>.yaml. A list that fails writes only its
// .error, never an empty list, and a refused one says which permission is
// missing and how to check it. Command says how to call kubectl.
const KindKubeGet Kind = "kube_get"

type kubeGetKind struct{}

func (kubeGetKind) validate(c *Collector) (string, error) {
	if len(c.Resources) == 0 {
		return "name", errors.New("a kube_get collector needs resources")
	}
	return validateKube(c)
}

func (kubeGetKind) describe(c Collector, _ Env) string {
	_, where := kubeScope(c.Namespace)
	if c.Namespace == "" {
		where = "(cluster-scoped types once, namespaced ones in all namespaces)"
	}
	return fmt.Sprintf("%s get <type> -o yaml %s, %d at a time, for %d types: %s",
		human.Command(kubectlArgv(c)), where, kubeListParallel, len(c.Resources), firstFew(c.Resources))
}

func (kubeGetKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	kubectl := kubectlArgv(c)
	scope, where := kubeScope(c.Namespace)
	res.Command = slices.Concat(kubectl, []string{"get", "<type>"}, scope, []string{"-o", "yaml"})
	res.Source = fmt.Sprintf("%d types %s", len(c.Resources), where)

	subs := make([]CollectorResult, len(c.Resources))
	var g errgroup.Group
	g.SetLimit(kubeListParallel)
	for i, r := range c.Resources {
		g.Go(func() error {
			argv := slices.Concat(kubectl, []string{"get", r}, scope, []string{"-o", "yaml"})
			ns := c.Namespace
			if slices.Contains(s.env.Kube.clusterScoped(), r) {
				argv, ns = slices.Concat(kubectl, []string{"get", r, "-o", "yaml"}), "-"
			}
			subs[i] = s.kubeCall(ctx, c, res, argv, path.Join(c.Output, "kubectl_get_"+r+".yaml"), "list "+r, ns)
			return nil
		})
	}
	g.Wait()
	s.absorb(ctx, res, subs, "lists", c.Resources)
}

// kubeScope is the namespace arguments of a kube call and their words.
func kubeScope(namespace string) (args []string, where string) {
	if namespace == "" {
		return []string{"-A"}, "in all namespaces"
	}
	return []string{"-n", namespace}, "in namespace " + namespace
}

func (k *KubeCluster) clusterScoped() []string {
	if k == nil {
		return nil
	}
	return k.ClusterScoped
}

// kubeCall runs one kubectl command of collector c under the cluster's
// per-call deadline: stdout to output, written only when the command
// succeeded, stderr to the .error next to it. access ("list secrets", "get
// pods/log") and namespace ("" all, "-" cluster-scoped) name what a refusal
// is about. On a sick control plane a
// call is not even tried once a few have timed out.
func (s *runState) kubeCall(ctx context.Context, c Collector, parent *CollectorResult, argv []string, output, access, namespace string) CollectorResult {
	var stdout *tailBuffer
	sub := s.kubeCallTo(ctx, c, parent, argv, errorPath(output), access, namespace, func(r io.Reader) (err error) {
		stdout, err = s.stream(output, r, s.fileCap(c))
		return err
	})
	defer stdout.Close()
	if sub.Status == StatusOK && stdout != nil {
		if werr := s.writeOutput(&sub, output, stdout, false); werr != nil {
			sub.fail(FailOther, werr.Error())
		}
	}
	return sub
}

// kubeCallTo is kubeCall handing stdout to consume, which must read it all.
func (s *runState) kubeCallTo(ctx context.Context, c Collector, parent *CollectorResult, argv []string, errRel, access, namespace string, consume func(io.Reader) error) CollectorResult {
	sub := CollectorResult{Name: c.Name, Redactions: redact.Counts{}, Status: StatusOK, abandoned: parent.abandoned}
	k := s.env.Kube
	release, err := k.acquire(ctx)
	if err != nil {
		sub.fail(FailTimeout, "not started: the collector's deadline passed")
		return sub
	}
	defer release()
	if k.tripped(false) {
		sub.fail(FailAPIUnreachable, "not tried: "+k.sickReason())
		return sub
	}
	timeout := k.callTimeout(s.opts.CollectorTimeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv = append(slices.Clone(argv), fmt.Sprintf("--request-timeout=%ds", int(timeout.Seconds())))
	cmd := Collector{Name: c.Name, Command: argv, Output: errRel, Optional: c.Optional}
	stderr, p, err := s.executeTo(cctx, argv, errRel, s.fileCap(c), consume)
	if err != nil {
		s.commandMissing(cmd, &sub, err)
		return sub
	}
	defer stderr.Close()
	forbidden := p.exitCode > 0 && strings.Contains(strings.ToLower(string(stderr.Bytes())), "forbidden")
	if forbidden && access != "" {
		fmt.Fprintln(stderr, rbacHint(kubectlArgv(c), access, namespace))
	}
	s.finishCommand(cctx, cmd, &sub, stderr, p, errRel)
	switch {
	case forbidden:
		sub.FailureKind = FailKubeForbidden
	case sub.FailureKind == FailTimeout && ctx.Err() == nil:
		sub.Error = fmt.Sprintf("no answer within %s", timeout)
		if k.tripped(true) || (k != nil && !k.Ready) {
			sub.FailureKind = FailAPIUnreachable // the control plane is sick: waiting longer would not help
		}
	}
	return sub
}

// absorb adds the results of a collector's calls (one per item, in the same
// order) to its own: outputs, bytes, redactions, and failure when any call
// failed, naming the first few.
func (s *runState) absorb(ctx context.Context, res *CollectorResult, subs []CollectorResult, what string, items []string) {
	var failed, notTried []string
	var kind FailureKind
	if len(subs) == 1 && subs[0].Status == StatusSkipped {
		res.skip(subs[0].Error) // an optional collector without kubectl
		return
	}
	for i, sub := range subs {
		res.Outputs = append(res.Outputs, sub.Outputs...)
		switch {
		case sub.ErrorFile != "" && len(subs) == 1:
			res.ErrorFile = sub.ErrorFile
		case sub.ErrorFile != "":
			res.Outputs = append(res.Outputs, sub.ErrorFile)
		}
		res.Bytes += sub.Bytes
		res.Truncated = res.Truncated || sub.Truncated
		res.Redactions.Add(sub.Redactions)
		if !sub.Failed() {
			continue
		}
		if strings.HasPrefix(sub.Error, "not tried: ") {
			notTried = append(notTried, items[i])
			continue
		}
		failed = append(failed, fmt.Sprintf("%s: %s", items[i], cmp.Or(sub.Error, "timed out")))
		kind = cmp.Or(kind, sub.FailureKind)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.fail(FailTimeout, "") // runTask words it
	case ctx.Err() != nil:
		res.fail(FailOther, "canceled")
	case len(failed) > 0 || len(notTried) > 0:
		msg := fmt.Sprintf("%d of %d %s failed", len(failed)+len(notTried), len(subs), what)
		if len(failed) > 0 {
			msg += ": " + firstFew(failed)
		}
		if len(notTried) > 0 {
			msg += fmt.Sprintf("; %d not tried (%s): %s", len(notTried), s.env.Kube.sickReason(), firstFew(notTried))
		}
		res.fail(cmp.Or(kind, FailAPIUnreachable), msg)
	}
}
