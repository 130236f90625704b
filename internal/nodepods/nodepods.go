// Package nodepods runs one short-lived pod per node of a Kubernetes cluster
// for a cluster dump, through the real kubectl: Kubernetes schedules the
// per-node work, and each pod uploads its node's part straight to the bucket
// through a write-only ticket, so no dump data passes the API server.
//
// Run creates a ServiceAccount with no permissions and the pods (from the
// templates in this package), at most Options.Concurrency at a time, watches
// them (kubectl get -w, not polling), and deletes everything it created, on
// success, on error and when its context is cancelled:
//
//	sign := func(ctx context.Context) ([]string, error) {
//		t, err := ticket.CreateNode(ctx, ...) // when n1's pod is about to be created
//		return []string{"gather", "--ticket", t, ...}, err
//	}
//	results, err := nodepods.Run(ctx, opts, []fleet.Job{{Node: "n1", Args: sign}})
//	for _, r := range results {
//		if r.Err != nil { ... } // why node r.Name has no part
//	}
//
// A Job with Stdout set (an offline dump, no bucket) is run differently: its
// pod only holds the node until the deadline, and Run executes the command in
// it with kubectl exec, through the API server, copying its standard output
// (the node's sealed part) to Job.Stdout: at most Options.Concurrency streams
// at once, each within the node's deadline. That is the small-cluster path.
//
// Every object carries the label LabelKey=<session>; Cleanup deletes what an
// interrupted run left.
package nodepods

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fleet"
)

// LabelKey labels every object a run creates; its value is the dump's uuid.
const LabelKey = "dump.dumptool.io/session"

//go:embed pod.yaml.tmpl serviceaccount.yaml.tmpl
var templates embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v) // a JSON string is a YAML string: nothing can break out of it
		return string(b), err
	},
}).ParseFS(templates, "*.tmpl"))

// Kubectl says which cluster kubectl talks to.
type Kubectl struct {
	Kubeconfig, Context string
}

// Run runs kubectl with args and stdin, returning its stdout; the error
// carries its stderr.
func (k Kubectl) Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append(k.flags(), args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (k Kubectl) flags() []string {
	var f []string
	if k.Kubeconfig != "" {
		f = append(f, "--kubeconfig", k.Kubeconfig)
	}
	if k.Context != "" {
		f = append(f, "--context", k.Context)
	}
	return f
}

// Current names the kubeconfig context kubectl uses and its API server.
func (k Kubectl) Current(ctx context.Context) (name, server string, err error) {
	out, err := k.Run(ctx, nil, "config", "view", "--minify", "-o", "jsonpath={.contexts[0].name}{\"\\n\"}{.clusters[0].cluster.server}")
	if err != nil {
		return "", "", fmt.Errorf("read kubectl's context: %w", err)
	}
	name, server, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	return name, server, nil
}

// ListNodes names the cluster's nodes that match selector ("" for all).
func ListNodes(ctx context.Context, k Kubectl, selector string) ([]string, error) {
	args := []string{"get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := k.Run(ctx, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// Options configure Run.
type Options struct {
	Kubectl     Kubectl
	Namespace   string        // where the pods and their ServiceAccount go (it must exist)
	Session     string        // the dump's uuid: the label value and the pod name prefix
	Image       string        // the dump image the pods run
	Concurrency int           // pods at once; default 10
	NodeTimeout time.Duration // per node, from its pod's creation; default 10m
	// Progress, if set, hears one line per node as it starts and ends.
	Progress func(format string, args ...any)
	// PriorityClass, if set, is the pods' PriorityClass (it must exist):
	// the API server gives the pods its value and preemption policy.
	PriorityClass string
}

// Run runs one pod per node and returns a result per node, in order. Its
// error is for the run as a whole (nothing could be created); one node that
// fails is only that node's Result.Err. Everything created is deleted before
// Run returns, also when ctx is cancelled.
func Run(ctx context.Context, opts Options, nodes []fleet.Job) (_ []fleet.Result, err error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 10
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 10 * time.Minute
	}
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	r := &run{opts: opts, waiting: map[string]*podWait{}, kubectls: make(chan struct{}, maxKubectls)}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := Cleanup(cctx, opts.Kubectl, opts.Namespace, opts.Session); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	sa, err := r.render("serviceaccount.yaml.tmpl", r.values("", ""))
	if err != nil {
		return nil, err
	}
	if _, err := opts.Kubectl.Run(ctx, sa, "create", "-f", "-"); err != nil {
		return nil, fmt.Errorf("create the node pods' ServiceAccount in namespace %s: %w", opts.Namespace, err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go r.watch(wctx)

	results := make([]fleet.Result, len(nodes))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Concurrency, len(nodes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				start := time.Now()
				err := r.node(ctx, i, nodes[i])
				results[i] = fleet.Result{Node: nodes[i].Node, Started: start, Took: time.Since(start), Err: err}
				switch {
				case err != nil:
					opts.Progress("node %s: %v", nodes[i].Node, err)
				case nodes[i].Stdout != nil:
					opts.Progress("node %s: part received through the API server (%s)", nodes[i].Node, time.Since(start).Round(100*time.Millisecond))
				default:
					opts.Progress("node %s: part uploaded (%s)", nodes[i].Node, time.Since(start).Round(100*time.Millisecond))
				}
			}
		}()
	}
	for i := range nodes {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	for i := range results {
		if results[i].Node == "" {
			results[i] = fleet.Result{Node: nodes[i].Node, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
		}
	}
	return results, ctx.Err()
}

// maxKubectls bounds the kubectl processes the nodes' pods are created and
// deleted with: each is some 45 MiB resident, and every slot of
// --node-concurrency 50 starting its pod at once meant 2.4 GiB with them
// (0.34 GiB bounded; BENCHMARKS.md). Each takes about 0.1 s of CPU, so four
// keep up with some 20 pods a second, a create and a delete each.
const maxKubectls = 4

type run struct {
	opts     Options
	kubectls chan struct{} // one token per kubectl running for a node

	mu      sync.Mutex
	waiting map[string]*podWait // by pod name
}

// podWait is what the watch tells a node about its pod.
type podWait struct {
	done    chan error    // its outcome, sent once
	running chan struct{} // closed when it runs
	started bool
}

// podName is short and fixed-length: node names can be 253 characters.
func (r *run) podName(i int) string { return fmt.Sprintf("dump-%s-%d", r.opts.Session[:8], i) }

func (r *run) values(node, pod string) map[string]any {
	return map[string]any{
		"Name": pod, "Namespace": r.opts.Namespace, "LabelKey": LabelKey, "Session": r.opts.Session,
		"ServiceAccount": "dump-node-" + r.opts.Session[:8], "Node": node, "Image": r.opts.Image,
		"DeadlineSeconds": int(r.opts.NodeTimeout.Seconds()), "PriorityClass": r.opts.PriorityClass,
	}
}

func (r *run) render(name string, v map[string]any) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, v); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// node runs the pod of node n and waits for its outcome or its deadline.
// With n.Stdout set, the pod only holds the node until its deadline, and
// the command runs in it through the API server (stream).
func (r *run) node(ctx context.Context, i int, n fleet.Job) error {
	args, err := n.Args(ctx)
	if err != nil {
		return err
	}
	name := r.podName(i)
	v := r.values(n.Node, name)
	command := append(append([]string{"dump"}, args...), "--sysroot", "/host")
	v["Command"] = command
	if n.Stdout != nil {
		v["Command"] = []string{"sleep", strconv.Itoa(int(r.opts.NodeTimeout.Seconds()))}
	}
	spec, err := r.render("pod.yaml.tmpl", v)
	if err != nil {
		return err
	}
	w := &podWait{done: make(chan error, 1), running: make(chan struct{})}
	r.mu.Lock()
	r.waiting[name] = w
	r.mu.Unlock()
	if _, err := r.kubectl(ctx, spec, "create", "-f", "-"); err != nil {
		return fmt.Errorf("create its pod: %w", err)
	}
	r.opts.Progress("node %s: pod %s created", n.Node, name)
	nctx, cancel := context.WithTimeoutCause(ctx, r.opts.NodeTimeout, errNodeDeadline)
	defer cancel()
	if n.Stdout != nil {
		err = r.stream(nctx, name, w, command, n.Stdout)
	} else {
		select {
		case err = <-w.done:
		case <-nctx.Done():
			err = r.stopped(nctx)
		}
	}
	// Its slot goes to the next node now, not at the end of the run.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	r.kubectl(dctx, nil, "delete", "pod", "-n", r.opts.Namespace, name, "--ignore-not-found", "--wait=false")
	return err
}

// kubectl runs kubectl for a node, at most maxKubectls at once.
func (r *run) kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	select {
	case r.kubectls <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-r.kubectls }()
	return r.opts.Kubectl.Run(ctx, stdin, args...)
}

// watch follows the run's pods and hands each pod's outcome to its waiter.
// A watch that ends (the API server closed it) is started again: its first
// events are the pods as they are now, so nothing is missed.
func (r *run) watch(ctx context.Context) {
	for ctx.Err() == nil {
		cmd := exec.CommandContext(ctx, "kubectl", append(r.opts.Kubectl.flags(), "get", "pods", "-n", r.opts.Namespace,
			"-l", LabelKey+"="+r.opts.Session, "--watch", "--output-watch-events", "-o", "json")...)
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			return
		}
		dec := json.NewDecoder(out)
		for {
			var ev struct {
				Type   string `json:"type"`
				Object pod    `json:"object"`
			}
			if dec.Decode(&ev) != nil {
				break
			}
			if err, done := outcome(ev.Type, ev.Object); done {
				r.deliver(ev.Object.Metadata.Name, err)
			} else if ev.Object.Status.Phase == "Running" {
				r.runs(ev.Object.Metadata.Name)
			}
		}
		cmd.Wait()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *run) deliver(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.waiting[name]; ok {
		w.done <- err
		delete(r.waiting, name)
	}
}

func (r *run) runs(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.waiting[name]; ok && !w.started {
		close(w.running)
		w.started = true
	}
}

// errNodeDeadline ends a node's context at --node-timeout.
var errNodeDeadline = errors.New("node deadline")

// stopped says why the context of a node ended: its deadline, or the run
// was interrupted.
func (r *run) stopped(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errNodeDeadline) {
		return &gather.KindError{Kind: gather.FailTimeout, Err: fmt.Errorf("timed out after %s", r.opts.NodeTimeout)}
	}
	return fmt.Errorf("interrupted: %w", context.Cause(ctx))
}

// Cleanup deletes the objects of session (every session when it is "") in
// namespace (every namespace when it is ""). Pods are deleted at once
// (grace period 0): they only gather, and a kubelet stops a deleted pod's
// container all the same.
func Cleanup(ctx context.Context, k Kubectl, namespace, session string) error {
	sel := LabelKey
	if session != "" {
		sel += "=" + session
	}
	args := []string{"delete", "pods,serviceaccounts", "-l", sel, "--ignore-not-found", "--wait=false", "--grace-period=0", "--force"}
	if namespace == "" {
		args = append(args, "--all-namespaces")
	} else {
		args = append(args, "-n", namespace)
	}
	if _, err := k.Run(ctx, nil, args...); err != nil {
		return fmt.Errorf("delete the node pods (labelled %s): %w; run dump cleanup --cluster", sel, err)
	}
	return nil
}
