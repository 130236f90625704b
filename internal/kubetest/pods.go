package kubetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StandInNode says what the stand-in kubelet of one Node does with the pods
// bound to it.
type StandInNode struct {
	Sysroot   string // the node's root: /host in a pod's command is mapped to it
	PullFails bool   // report ImagePullBackOff and never start the container
	Hangs     bool   // start the container and never end it
}

// PodRunner is a stand-in kubelet for Nodes of its own: it watches the real
// API server for pods bound to them, runs each pod's command as a local
// process (Rewrite maps the image's binary and /host), and reports the pod's
// status back through the API as a kubelet does. It serves `kubectl exec`
// into those pods too (exec.go). It also keeps every pod object it saw, as
// the API server stored it.
type PodRunner struct {
	c       *Cluster
	nodes   map[string]StandInNode
	rewrite func(args []string, sysroot string) *exec.Cmd
	exec    *execKubelet

	mu      sync.Mutex
	seen    map[string][]byte // "ns/name" -> the pod's JSON when first seen
	podNode map[string]string // "ns/name" -> its node
	running map[string]*exec.Cmd
	execs   map[string][]*exec.Cmd // "ns/name" -> the commands exec'd in it
}

// RunPods registers nodes (labelled label=value) and runs their pods until
// the end of the test; rewrite makes the local process of a pod's command.
func (c *Cluster) RunPods(t testing.TB, label, value string, nodes map[string]StandInNode, rewrite func(args []string, sysroot string) *exec.Cmd) *PodRunner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &PodRunner{c: c, nodes: nodes, rewrite: rewrite, seen: map[string][]byte{}, podNode: map[string]string{}, running: map[string]*exec.Cmd{}, execs: map[string][]*exec.Cmd{}}
	r.exec = newExecKubelet(r)
	for name := range nodes {
		node := fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"labels":{%q:%q}}}`, name, label, value)
		if _, err := c.Kubectl(ctx, node, "apply", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		if err := c.registerNode(ctx, name, r.exec.port); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.AdminKubeconfig, "get", "pods", "-A", "--watch", "--output-watch-events", "-o", "json")
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dec := json.NewDecoder(out)
		for {
			var ev struct {
				Type   string          `json:"type"`
				Object json.RawMessage `json:"object"`
			}
			if dec.Decode(&ev) != nil {
				return
			}
			r.event(ctx, ev.Type, ev.Object)
		}
	}()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		<-done
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.running {
			syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
		}
		for name := range nodes {
			c.Kubectl(context.Background(), "", "delete", "node", name, "--ignore-not-found")
		}
		r.exec.srv.Close()
	})
	return r
}

// ExecBytes says how much the exec'd commands wrote to stdout and how many
// bytes the stand-in kubelet sent the API server for them (TLS and the
// stream protocol's framing included).
func (r *PodRunner) ExecBytes() (stdout, wire int64) {
	return r.exec.out.Load(), r.exec.wire.Load()
}

// ExecPeak is the largest number of exec'd commands that ran at once.
func (r *PodRunner) ExecPeak() int {
	r.exec.mu.Lock()
	defer r.exec.mu.Unlock()
	return r.exec.peak
}

// ExecRunning is the number of exec'd commands running now.
func (r *PodRunner) ExecRunning() int {
	r.exec.mu.Lock()
	defer r.exec.mu.Unlock()
	return r.exec.active
}

// Pods are the pod objects seen, as first stored by the API server.
func (r *PodRunner) Pods() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pods [][]byte
	for _, p := range r.seen {
		pods = append(pods, p)
	}
	return pods
}

type standInPod struct {
	Metadata struct {
		Name              string  `json:"name"`
		Namespace         string  `json:"namespace"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName   string `json:"nodeName"`
		Containers []struct {
			Name    string   `json:"name"`
			Image   string   `json:"image"`
			Command []string `json:"command"`
		} `json:"containers"`
	} `json:"spec"`
}

func (r *PodRunner) event(ctx context.Context, typ string, raw json.RawMessage) {
	var p standInPod
	if json.Unmarshal(raw, &p) != nil || len(p.Spec.Containers) == 0 {
		return
	}
	node, ok := r.nodes[p.Spec.NodeName]
	if !ok {
		return
	}
	key := p.Metadata.Namespace + "/" + p.Metadata.Name
	r.mu.Lock()
	_, known := r.seen[key]
	if !known {
		r.seen[key] = raw
		r.podNode[key] = p.Spec.NodeName
	}
	procs := append([]*exec.Cmd{r.running[key]}, r.execs[key]...)
	r.mu.Unlock()
	if typ == "DELETED" || p.Metadata.DeletionTimestamp != nil {
		// As a kubelet: stop the container (what was exec'd in it too),
		// then confirm the deletion.
		for _, proc := range procs {
			if proc != nil {
				syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
			}
		}
		if typ != "DELETED" {
			r.c.Kubectl(ctx, "", "delete", "pod", "-n", p.Metadata.Namespace, p.Metadata.Name, "--grace-period=0", "--force", "--ignore-not-found")
		}
		return
	}
	if !known {
		go r.start(ctx, p, node, key)
	}
}

func (r *PodRunner) start(ctx context.Context, p standInPod, node StandInNode, key string) {
	c := p.Spec.Containers[0]
	if node.PullFails {
		r.status(ctx, p, "Pending", fmt.Sprintf(`{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"%s\""}}`, c.Image))
		return
	}
	cmd := r.rewrite(c.Command, node.Sysroot)
	if node.Hangs {
		cmd = exec.Command("sleep", "600")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.status(ctx, p, "Failed", fmt.Sprintf(`{"terminated":{"exitCode":128,"reason":"StartError","message":%q}}`, err.Error()))
		return
	}
	r.mu.Lock()
	r.running[key] = cmd
	r.mu.Unlock()
	r.status(ctx, p, "Running", fmt.Sprintf(`{"running":{"startedAt":%q}}`, time.Now().UTC().Format(time.RFC3339)))
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.running, key)
	r.mu.Unlock()
	code, phase, reason := 0, "Succeeded", "Completed"
	if err != nil {
		code, phase, reason = cmd.ProcessState.ExitCode(), "Failed", "Error"
	}
	msg := stderr.String()
	if len(msg) > 4096 {
		msg = msg[len(msg)-4096:]
	}
	r.status(ctx, p, phase, fmt.Sprintf(`{"terminated":{"exitCode":%d,"reason":%q,"message":%q}}`, code, reason, msg))
}

// status reports the pod's status as the kubelet does: a PUT of the status
// subresource (kubectl replace --raw, which Debian's kubectl 1.20 has; its
// patch has no --subresource), read again and retried on a conflict.
func (r *PodRunner) status(ctx context.Context, p standInPod, phase, state string) {
	c := p.Spec.Containers[0]
	st := fmt.Sprintf(`{"phase":%q,"containerStatuses":[{"name":%q,"image":%q,"imageID":"","ready":false,"restartCount":0,"state":%s}]}`,
		phase, c.Name, c.Image, state)
	path := "/api/v1/namespaces/" + p.Metadata.Namespace + "/pods/" + p.Metadata.Name
	for range 5 {
		out, err := r.c.Kubectl(ctx, "", "get", "--raw", path)
		if err != nil {
			return // deleted meanwhile
		}
		var obj map[string]any
		if json.Unmarshal([]byte(out), &obj) != nil {
			return
		}
		status, _ := obj["status"].(map[string]any)
		if status == nil {
			status = map[string]any{}
		}
		var update map[string]any
		json.Unmarshal([]byte(st), &update)
		for k, v := range update {
			status[k] = v
		}
		obj["status"] = status
		body, _ := json.Marshal(obj)
		if _, err := r.c.Kubectl(ctx, string(body), "replace", "--raw", path+"/status", "-f", "-"); err == nil {
			return
		}
	}
}
