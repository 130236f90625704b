package gather

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dumptool/dump/internal/human"
)

// How many calls one kube_logs collector makes at once, and at most how many
// containers and not-Ready pods it reads. A cluster can run thousands of
// pods: the caps bound the dump and the load on the API server, and the
// newest pods, the likeliest to matter, go first.
var (
	kubeLogsConcurrency   = 4
	kubeLogsMaxContainers = 200
	kubeMaxDescribes      = 50
)

// kubeName is a Kubernetes object name (DNS-1123): safe in a file name, and
// without "_", so the parts of kubectl_logs_<ns>_<pod>_<container> stay apart.
var kubeName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// kubectlArgv is how a kube collector calls kubectl.
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

// KindKubeLogs reads the pods of Namespace (all when empty): the events
// sorted by time (Output/events.txt), a describe of each pod that is not
// Ready, and the logs of each container within --since, with timestamps,
// init containers included, to Output/kubectl_logs_<ns>_<pod>_<container>.log
// (and _previous.log for the run before the last restart). A container that
// never started gets no file but a note saying why. Any call that fails makes
// the collector fail. Command says how to call kubectl (default kubectl).
const KindKubeLogs Kind = "kube_logs"

// kubeLogs makes a kube_logs collector, with kubectl run as argv (default
// kubectl).
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

func (kubeLogsKind) validate(c *Collector) (string, error) { return validateKube(c) }

func (kubeLogsKind) describe(c Collector, env Env) string {
	_, where := kubeScope(c.Namespace)
	return fmt.Sprintf("%s logs --timestamps %s of each container of the pods %s (at most %d, %d at a time), their events, and describe of pods not Ready",
		human.Command(kubectlArgv(c)), kubeSince(env.Since), where, kubeLogsMaxContainers, kubeLogsConcurrency)
}

func (kubeLogsKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	kubectl := kubectlArgv(c)
	scope, where := kubeScope(c.Namespace)
	list := slices.Concat(kubectl, []string{"get", "pods"}, scope, []string{"-o", "json"})
	res.Command = list
	res.Source = "pods " + where
	var pods []kubePod
	var bad int
	sub := s.kubeCallTo(ctx, c, res, list, path.Join(c.Output, "kubectl_logs.error"), "list pods", c.Namespace, func(r io.Reader) error {
		return eachItem(r, func(raw json.RawMessage) error {
			var p kubePod
			if json.Unmarshal(raw, &p) != nil || !kubeName.MatchString(p.Metadata.Namespace) || !kubeName.MatchString(p.Metadata.Name) {
				bad++
				return nil
			}
			pods = append(pods, p)
			return nil
		})
	})
	if s.absorb(ctx, res, []CollectorResult{sub}, "lists", []string{"pods"}); res.Status != StatusOK {
		return
	}
	// RFC 3339 times in UTC sort as strings.
	slices.SortStableFunc(pods, func(a, b kubePod) int {
		return strings.Compare(b.Metadata.CreationTimestamp, a.Metadata.CreationTimestamp)
	})

	type call struct {
		what   string // for the error: "default/web/app", "events"
		argv   []string
		output string
		access string // for a refusal: "get pods/log"
	}
	calls := []call{{what: "events"}}
	var notes, cut []string // cut: what makes the collector incomplete
	if bad > 0 {
		cut = append(cut, fmt.Sprintf("%d pods not understood", bad))
	}
	describes, containers := 0, 0
	for _, p := range pods {
		ns, name := p.Metadata.Namespace, p.Metadata.Name
		if !p.ready() && p.Status.Phase != "Succeeded" {
			if describes++; describes <= kubeMaxDescribes {
				calls = append(calls, call{what: "describe " + ns + "/" + name, access: "get pods",
					argv:   slices.Concat(kubectl, []string{"describe", "pod", "-n", ns, name}),
					output: path.Join(c.Output, "kubectl_describe_pod_"+ns+"_"+name+".txt")})
			}
		}
		for _, ct := range p.containers() {
			if !kubeName.MatchString(ct.name) {
				continue
			}
			id := ns + "/" + name + "/" + ct.name
			if ct.neverStarted != "" {
				notes = append(notes, id+": no logs, the container never started: "+ct.neverStarted)
				continue
			}
			if containers++; containers > kubeLogsMaxContainers {
				continue
			}
			base := path.Join(c.Output, "kubectl_logs_"+ns+"_"+name+"_"+ct.name)
			logs := slices.Concat(kubectl, []string{"logs", "-n", ns, name, "-c", ct.name, "--timestamps", kubeSince(s.opts.Since)})
			calls = append(calls, call{what: id, argv: logs, output: base + ".log", access: "get pods/log"})
			if ct.restarted {
				calls = append(calls, call{what: id + " (previous)", argv: append(slices.Clone(logs), "--previous"),
					output: base + "_previous.log", access: "get pods/log"})
			}
		}
	}
	if describes > kubeMaxDescribes {
		cut = append(cut, fmt.Sprintf("%d of %d pods that are not Ready left undescribed (at most %d, newest first)", describes-kubeMaxDescribes, describes, kubeMaxDescribes))
	}
	if containers > kubeLogsMaxContainers {
		cut = append(cut, fmt.Sprintf("%d of %d containers left out (at most %d, newest pods first)", containers-kubeLogsMaxContainers, containers, kubeLogsMaxContainers))
	}

	subs := make([]CollectorResult, len(calls))
	whats := make([]string, len(calls))
	var g errgroup.Group
	g.SetLimit(kubeLogsConcurrency)
	for i, cl := range calls {
		whats[i] = cl.what
		if ctx.Err() != nil {
			subs[i].fail(FailTimeout, "not started: the collector's deadline passed")
			continue
		}
		g.Go(func() error {
			if cl.what == "events" {
				subs[i] = s.kubeEvents(ctx, c, res)
			} else {
				subs[i] = s.kubeCall(ctx, c, res, cl.argv, cl.output, cl.access, c.Namespace)
			}
			return nil
		})
	}
	g.Wait()
	s.absorb(ctx, res, subs, "calls", whats)
	res.Notes = append(res.Notes, notes...)
	if res.Status == StatusOK {
		res.Error = strings.Join(cut, "; ")
	}
}

// kubeEvents writes the events of the collector's namespace (all when empty)
// as a table sorted by when they last happened: Output/events.txt.
func (s *runState) kubeEvents(ctx context.Context, c Collector, parent *CollectorResult) CollectorResult {
	scope, _ := kubeScope(c.Namespace)
	argv := slices.Concat(kubectlArgv(c), []string{"get", "events"}, scope, []string{"-o", "json"})
	out := path.Join(c.Output, "events.txt")
	var events []kubeEvent
	sub := s.kubeCallTo(ctx, c, parent, argv, errorPath(out), "list events", c.Namespace, func(r io.Reader) error {
		return eachItem(r, func(raw json.RawMessage) error {
			var e kubeEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			events = append(events, e)
			return nil
		})
	})
	if sub.Status != StatusOK {
		return sub
	}
	slices.SortStableFunc(events, func(a, b kubeEvent) int { return strings.Compare(a.when(), b.when()) })
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "LAST SEEN\tNAMESPACE\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\t%d\t%s\n", e.when(), e.Metadata.Namespace, e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, max(e.Count, 1), strings.ReplaceAll(e.Message, "\n", " "))
	}
	tw.Flush()
	tb, err := s.stream(out, &b, s.fileCap(c))
	if err == nil {
		err = s.writeOutput(&sub, out, tb, false)
	}
	if err != nil {
		sub.fail(FailOther, err.Error())
	}
	return sub
}

// firstFew joins the first few of a list, saying how many more there are.
func firstFew(l []string) string {
	const few = 5
	if len(l) <= few {
		return strings.Join(l, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(l[:few], "; "), len(l)-few)
}

// kubePod is what kube_logs needs of a Pod.
type kubePod struct {
	Metadata struct {
		Name              string `json:"name"`
		Namespace         string `json:"namespace"`
		CreationTimestamp string `json:"creationTimestamp"`
	} `json:"metadata"`
	Spec struct {
		InitContainers []struct {
			Name string `json:"name"`
		} `json:"initContainers"`
		Containers []struct {
			Name string `json:"name"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		Reason     string `json:"reason"`
		Message    string `json:"message"`
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		InitContainerStatuses []kubeContainerStatus `json:"initContainerStatuses"`
		ContainerStatuses     []kubeContainerStatus `json:"containerStatuses"`
	} `json:"status"`
}

type kubeContainerStatus struct {
	Name         string `json:"name"`
	RestartCount int    `json:"restartCount"`
	State        struct {
		Waiting *struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"waiting"`
		Running    *struct{} `json:"running"`
		Terminated *struct{} `json:"terminated"`
	} `json:"state"`
	LastState struct {
		Terminated *struct{} `json:"terminated"`
	} `json:"lastState"`
}

func (p kubePod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// kubeContainerLogs is one container of a pod, as far as its logs go.
type kubeContainerLogs struct {
	name         string
	restarted    bool   // it ran before: read --previous too
	neverStarted string // why there are no logs at all; "" when it ran
}

// containers are the pod's init containers then its containers.
func (p kubePod) containers() []kubeContainerLogs {
	var cs []kubeContainerLogs
	add := func(name string, statuses []kubeContainerStatus) {
		i := slices.IndexFunc(statuses, func(s kubeContainerStatus) bool { return s.Name == name })
		if i < 0 {
			cs = append(cs, kubeContainerLogs{name: name, neverStarted: p.notStartedReason()})
			return
		}
		st := statuses[i]
		ran := st.State.Running != nil || st.State.Terminated != nil || st.LastState.Terminated != nil || st.RestartCount > 0
		c := kubeContainerLogs{name: name, restarted: st.LastState.Terminated != nil || st.RestartCount > 0}
		if !ran {
			c.neverStarted = p.Status.Phase
			if w := st.State.Waiting; w != nil {
				c.neverStarted = strings.TrimSuffix(strings.Join([]string{p.Status.Phase, w.Reason, w.Message}, ", "), ", ")
			}
		}
		cs = append(cs, c)
	}
	for _, c := range p.Spec.InitContainers {
		add(c.Name, p.Status.InitContainerStatuses)
	}
	for _, c := range p.Spec.Containers {
		add(c.Name, p.Status.ContainerStatuses)
	}
	return cs
}

// notStartedReason says why a pod's container has no status at all:
// unscheduled, or not yet created.
func (p kubePod) notStartedReason() string {
	for _, c := range p.Status.Conditions {
		if c.Type == "PodScheduled" && c.Status != "True" {
			return strings.Join(slices.DeleteFunc([]string{p.Status.Phase, c.Reason, c.Message}, func(s string) bool { return s == "" }), ", ")
		}
	}
	why := cmp.Or(p.Status.Phase, "no status")
	if p.Status.Reason != "" {
		why += ", " + p.Status.Reason
	}
	return why + ", no container status yet"
}

// kubeEvent is what events.txt shows of an Event.
type kubeEvent struct {
	Metadata struct {
		Namespace         string `json:"namespace"`
		CreationTimestamp string `json:"creationTimestamp"`
	} `json:"metadata"`
	Type           string `json:"type"`
	Reason         string `json:"reason"`
	Message        string `json:"message"`
	Count          int    `json:"count"`
	FirstTimestamp string `json:"firstTimestamp"`
	LastTimestamp  string `json:"lastTimestamp"`
	EventTime      string `json:"eventTime"`
	Series         *struct {
		LastObservedTime string `json:"lastObservedTime"`
	} `json:"series"`
	InvolvedObject struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"involvedObject"`
}

// when is the last time the event happened, RFC 3339 in UTC: the field
// depends on which API wrote it.
func (e kubeEvent) when() string {
	var series string
	if e.Series != nil {
		series = e.Series.LastObservedTime
	}
	t := cmp.Or(series, e.LastTimestamp, e.EventTime, e.FirstTimestamp, e.Metadata.CreationTimestamp)
	if pt, err := time.Parse(time.RFC3339Nano, t); err == nil {
		return pt.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	return t
}
