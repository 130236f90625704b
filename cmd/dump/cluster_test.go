package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/kubetest"
	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/internal/nodepods"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/ticket"
)

// Cluster dumps against the real kube-apiserver and MinIO. Stand-in kubelets
// run each node pod's command as a local process with /host mapped to a
// fixture sysroot; the node uploads through its ticket with no credentials.

// clusterEnv is the initiator's environment: MinIO's credentials and the real
// kubectl first on PATH.
func clusterEnv(t testing.TB, srv *miniotest.Server) []string {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	return append(srv.Env(), "PATH="+filepath.Dir(kubectl)+":"+os.Getenv("PATH"))
}

// standIn runs a node pod's `dump gather --sysroot /host ...` as this test's
// binary on the node's fixture root, with no bucket credentials.
func standIn(t testing.TB) func(args []string, sysroot string) *exec.Cmd {
	env := baseEnv(t)
	return func(args []string, sysroot string) *exec.Cmd {
		args = append([]string(nil), args...)
		for i, a := range args {
			if a == "/host" {
				args[i] = sysroot
			}
		}
		if args[0] == "dump" {
			args[0] = dumpBin
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		cmd.Dir = t.TempDir()
		return cmd
	}
}

// leftovers lists what a cluster dump labelled and did not delete.
func leftovers(t *testing.T, c *kubetest.Cluster) string {
	out, err := c.Kubectl(context.Background(), "", "get", "pods,serviceaccounts", "-A", "-l", nodepods.LabelKey, "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func TestClusterThreeNodesOneFails(t *testing.T) {
	c := kubetest.Shared(t)
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	identity, recipient := keygen(t)
	fixtures := filepath.Join(repoRoot(t), "testdata", "fixtures")
	runner := c.RunPods(t, "dumptest", "three", map[string]kubetest.StandInNode{
		"node-a": {Sysroot: filepath.Join(fixtures, "teleport-node")},
		"node-b": {Sysroot: filepath.Join(fixtures, "k3s-server")},
		"node-c": {PullFails: true},
	}, standIn(t))

	// A low class of the cluster's own: the API server gives the pods its
	// value and preemption policy.
	const lowClass = `{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"dump-test-low"},"value":-10,"preemptionPolicy":"Never"}`
	if _, err := c.Kubectl(context.Background(), lowClass, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Kubectl(context.Background(), "", "delete", "priorityclass", "dump-test-low", "--ignore-not-found")
	})

	start := time.Now()
	r := runDump(t, t.TempDir(), clusterEnv(t, srv), "gather-upload", "--cluster", "--node-selector", "dumptest=three", "--priority-class", "dump-test-low",
		"--kubeconfig", c.AdminKubeconfig, "--to", "s3://support/cluster", "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec), "--node-timeout", "2m")
	t.Logf("three-node cluster dump: %s", time.Since(start).Round(100*time.Millisecond))
	if r.code != 3 || !strings.Contains(r.stderr, "node-c") || !strings.Contains(r.stderr, "image pull back-off") {
		t.Fatalf("one node failing must give exit 3 naming it and saying why: %s", r)
	}
	if left := leftovers(t, c); left != "" {
		t.Errorf("labelled objects left in the cluster:\n%s", left)
	}
	id := r.lastLine()
	if r = runDump(t, t.TempDir(), srv.Env(), "list", "--from", "s3://support/cluster"); !strings.Contains(r.stdout, "2 of 3") {
		t.Errorf("list does not say 2 of 3 nodes uploaded a part: %s", r)
	}
	r = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", "s3://support/cluster", "--identity", identity, "--out", t.TempDir(), id)
	if r.code != 0 {
		t.Fatalf("decrypt of the cluster dump: %s", r)
	}
	tree := r.lastLine()
	if got := readFile(t, filepath.Join(tree, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Errorf("the cluster part is not at the top: greeting.txt = %q", got)
	}
	for _, n := range []string{"node-a", "node-b"} {
		if _, err := os.Stat(filepath.Join(tree, "nodes", n, "manifest.json")); err != nil {
			t.Errorf("no tree of %s: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "nodes", "node-c")); err == nil {
		t.Errorf("the failed node has a tree")
	}
	if report := readFile(t, filepath.Join(tree, "report.txt")); !strings.Contains(report, "node-c") || !strings.Contains(report, "image pull back-off") {
		t.Errorf("report.txt does not say why node-c has no part:\n%s", report)
	} else if !strings.Contains(report, "image_pull (1)") || !strings.Contains(report, "troubleshooting.md#image_pull") {
		t.Errorf("report.txt does not group node-c's failure as image_pull with its doc link:\n%s", report)
	}
	var manifest gather.Manifest
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(tree, "manifest.json"))), &manifest); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]gather.FailureKind{}
	for _, c := range manifest.Collectors {
		kinds[c.Name] = c.FailureKind
	}
	if kinds["node node-c"] != gather.FailImagePull || kinds["node node-a"] != "" {
		t.Errorf("manifest failure kinds of the nodes: %v, want node-c image_pull and node-a none", kinds)
	}
	assertNodeSpans(t, filepath.Join(tree, "trace.json"), map[string]bool{"node-a": true, "node-b": true, "node-c": false})
	// One node alone; a node without a part says why.
	r = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", "s3://support/cluster", "--identity", identity, "--out", t.TempDir(), "--node", "node-b", id)
	if r.code != 0 || !strings.HasSuffix(r.lastLine(), filepath.Join(id, "nodes", "node-b")) {
		t.Fatalf("decrypt --node node-b: %s", r)
	}
	if _, err := os.Stat(filepath.Join(r.lastLine(), "manifest.json")); err != nil {
		t.Errorf("decrypt --node node-b gave no tree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.lastLine(), "..", "..", "system")); err == nil {
		t.Errorf("decrypt --node also opened the cluster part")
	}
	r = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", "s3://support/cluster", "--identity", identity, "--out", t.TempDir(), "--node", "node-c", id)
	if r.code != 1 || !strings.Contains(r.stderr, "image pull back-off") {
		t.Errorf("decrypt --node of the failed node must say why it has no part: %s", r)
	}

	// A node part lost from the bucket costs that node only.
	if _, err := srv.Client().DeleteObject(context.Background(), &s3sdk.DeleteObjectInput{
		Bucket: aws.String("support"), Key: aws.String("cluster/" + id + "/nodes/node-a.tar.zst.age")}); err != nil {
		t.Fatal(err)
	}
	r = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", "s3://support/cluster", "--identity", identity, "--out", t.TempDir(), id)
	if r.code != 1 || !strings.Contains(r.stderr, "node-a") {
		t.Errorf("decrypt with node-a's part gone must fail naming it: %s", r)
	}
	if _, err := os.Stat(filepath.Join(r.lastLine(), "nodes", "node-b", "manifest.json")); err != nil {
		t.Errorf("node-b is not extracted when node-a's part is gone: %v\n%s", err, r)
	}

	// The pods as the API server stored them hold no secret.
	pods := runner.Pods()
	if len(pods) != 3 {
		t.Fatalf("%d node pods seen, want 3", len(pods))
	}
	for _, p := range pods {
		for _, secret := range []string{"AGE-SECRET-KEY-", miniotest.SecretKey, "AWS_SECRET"} {
			if bytes.Contains(bytes.ToUpper(p), bytes.ToUpper([]byte(secret))) {
				t.Errorf("a node pod holds %q:\n%s", secret, p)
			}
		}
		if !bytes.Contains(p, []byte(`"automountServiceAccountToken":false`)) {
			t.Errorf("a node pod mounts its ServiceAccount token:\n%s", p)
		}
		var spec struct {
			Spec struct {
				PriorityClassName string `json:"priorityClassName"`
				Priority          *int   `json:"priority"`
				PreemptionPolicy  string `json:"preemptionPolicy"`
			} `json:"spec"`
		}
		json.Unmarshal(p, &spec)
		if s := spec.Spec; s.PriorityClassName != "dump-test-low" || s.Priority == nil || *s.Priority != -10 || s.PreemptionPolicy != "Never" {
			t.Errorf("a node pod is not of --priority-class dump-test-low (priority -10, preemption Never): %+v", s)
		}
	}
}

func TestClusterInterruptDeletesEverything(t *testing.T) {
	c := kubetest.Shared(t)
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	_, recipient := keygen(t)
	runner := c.RunPods(t, "dumptest", "interrupt", map[string]kubetest.StandInNode{
		"node-hang-1": {Hangs: true}, "node-hang-2": {Hangs: true},
	}, standIn(t))

	cmd := exec.Command(dumpBin, "gather-upload", "--cluster", "--node-selector", "dumptest=interrupt",
		"--kubeconfig", c.AdminKubeconfig, "--to", "s3://support/interrupt", "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	cmd.Env = append(baseEnv(t), clusterEnv(t, srv)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(runner.Pods()) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(runner.Pods()) < 2 {
		cmd.Process.Kill()
		t.Fatalf("the node pods never appeared:\n%s", stderr.String())
	}
	interrupt(t, cmd, &stderr, 2*time.Minute)
	if left := leftovers(t, c); left != "" {
		t.Errorf("labelled objects left after SIGINT:\n%s\n%s", left, stderr.String())
	}
}

// What an interrupted run left (here made by hand) goes with dump cleanup.
func TestClusterCleanup(t *testing.T) {
	c := kubetest.Shared(t)
	left := `apiVersion: v1
kind: ServiceAccount
metadata:
  name: dump-node-leftover
  namespace: default
  labels: {"` + nodepods.LabelKey + `": "0f1e2d3c-0000-4000-8000-00000000000a"}
---
apiVersion: v1
kind: Pod
metadata:
  name: dump-leftover
  namespace: default
  labels: {"` + nodepods.LabelKey + `": "0f1e2d3c-0000-4000-8000-00000000000a"}
spec:
  nodeName: no-such-node
  containers: [{name: dump, image: dump}]
`
	if _, err := c.Kubectl(context.Background(), left, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if leftovers(t, c) == "" {
		t.Fatal("the leftovers were not created")
	}
	kubectl, _ := exec.LookPath("kubectl")
	r := runDump(t, t.TempDir(), []string{"PATH=" + filepath.Dir(kubectl) + ":" + os.Getenv("PATH")}, "cleanup", "--cluster", "--kubeconfig", c.AdminKubeconfig)
	if r.code != 0 {
		t.Fatalf("cleanup --cluster: %s", r)
	}
	if left := leftovers(t, c); left != "" {
		t.Errorf("left after cleanup:\n%s", left)
	}
}

// assertNodeSpans checks that trace.json has one "node" span per node, in
// error exactly for the nodes without a part.
func assertNodeSpans(t *testing.T, path string, ok map[string]bool) {
	t.Helper()
	var spans []struct {
		Name       string
		Status     struct{ Code string }
		Attributes []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &spans); err != nil {
		t.Fatalf("trace.json: %v", err)
	}
	seen := map[string]bool{}
	for _, s := range spans {
		if s.Name != "node" {
			continue
		}
		for _, a := range s.Attributes {
			if a.Key == "node" {
				name := fmt.Sprint(a.Value.Value)
				seen[name] = true
				if failed := s.Status.Code == "Error"; failed == ok[name] {
					t.Errorf("span of node %s: status %q, but the node had a part: %v", name, s.Status.Code, ok[name])
				}
			}
		}
	}
	for n := range ok {
		if !seen[n] {
			t.Errorf("trace.json has no span for node %s", n)
		}
	}
}

// Each node's ticket is signed when its pod is about to be created, valid
// for the node's deadline and an hour from then, however long the nodes
// before it took: one node at a time, behind a node that holds its slot for
// its whole deadline.
func TestClusterTicketSignedPerTurn(t *testing.T) {
	c := kubetest.Shared(t)
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	_, recipient := keygen(t)
	fixtures := filepath.Join(repoRoot(t), "testdata", "fixtures")
	runner := c.RunPods(t, "dumptest", "turns", map[string]kubetest.StandInNode{
		"turn-1": {Hangs: true},
		"turn-2": {Sysroot: filepath.Join(fixtures, "teleport-node")},
		"turn-3": {Sysroot: filepath.Join(fixtures, "k3s-server")},
	}, standIn(t))

	const timeout = 8 * time.Second
	r := runDump(t, t.TempDir(), clusterEnv(t, srv), "gather-upload", "--cluster", "--nodes", "turn-1,turn-2,turn-3", "--node-concurrency", "1",
		"--node-timeout", timeout.String(), "--kubeconfig", c.AdminKubeconfig, "--to", "s3://support/turns", "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 3 || !strings.Contains(r.stderr, "no part from 1 node(s): turn-1 (timed out") {
		t.Fatalf("the nodes after the one that timed out must upload through their tickets: %s", r)
	}
	created, expires := map[string]time.Time{}, map[string]time.Time{}
	for _, p := range runner.Pods() {
		var pod struct {
			Metadata struct {
				CreationTimestamp time.Time `json:"creationTimestamp"`
			} `json:"metadata"`
			Spec struct {
				NodeName   string `json:"nodeName"`
				Containers []struct {
					Command []string `json:"command"`
				} `json:"containers"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(p, &pod); err != nil || len(pod.Spec.Containers) != 1 {
			t.Fatalf("a node pod as stored: %v\n%s", err, p)
		}
		cmd := pod.Spec.Containers[0].Command
		at := slices.Index(cmd, "--ticket")
		if at < 0 || at+1 == len(cmd) {
			t.Fatalf("node pod of %s has no --ticket: %q", pod.Spec.NodeName, cmd)
		}
		tk, err := ticket.Parse(cmd[at+1])
		if err != nil {
			t.Fatalf("ticket of %s: %v", pod.Spec.NodeName, err)
		}
		created[pod.Spec.NodeName], expires[pod.Spec.NodeName] = pod.Metadata.CreationTimestamp, tk.Expires
	}
	if len(created) != 3 {
		t.Fatalf("node pods seen: %v, want turn-1, turn-2 and turn-3", created)
	}
	if gap := created["turn-2"].Sub(created["turn-1"]); gap < timeout-time.Second {
		t.Fatalf("turn-2's pod came %s after turn-1's, before turn-1's deadline of %s: the run did not go one at a time", gap, timeout)
	}
	// Both times are whole seconds; a ticket is signed at most a few
	// seconds before its pod is created (a kubectl create on a busy machine).
	life := timeout + time.Hour
	for n, c := range created {
		if early := c.Add(life).Sub(expires[n]); early < -time.Second || early > 4*time.Second {
			t.Errorf("%s's ticket expires at %s, its pod was created at %s: want about %s after the pod's creation",
				n, expires[n].UTC().Format(time.TimeOnly), c.UTC().Format(time.TimeOnly), life)
		}
	}
}

// A ticket that cannot be signed (credentials that expired in a long run)
// fails only its node, as ticket_signing; in an interrupted run that is not
// the ticket's fault.
func TestNodeTicketSigningFails(t *testing.T) {
	args := nodeUploadArgs(refusingPresigner{}, "s3://support/dumps", "0f1e2d3c-0000-4000-8000-00000000000b", "node-a", "age1recipient", time.Minute)
	_, err := args(context.Background())
	if err == nil || gather.ClassifyErr(err) != gather.FailTicketSigning || !strings.Contains(err.Error(), "token has expired") {
		t.Errorf("a ticket that cannot be signed: %v (%s), want ticket_signing with the signer's reason", err, gather.ClassifyErr(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := args(ctx); err == nil || gather.ClassifyErr(err) == gather.FailTicketSigning {
		t.Errorf("signing in an interrupted run: %v, want an error not of kind ticket_signing", err)
	}
}

type refusingPresigner struct{}

func (refusingPresigner) PresignPut(context.Context, string, time.Duration) (upload.PresignedPut, error) {
	return upload.PresignedPut{}, errors.New("refresh cached credentials: token has expired")
}

// Offline on Kubernetes: each node pod only holds its node, and the initiator
// runs the node's dump in it with kubectl exec through the real API server
// (to the stand-in kubelet), taking the sealed part from its stdout; the
// result is one local dump holding every node.
func TestClusterOfflineThroughAPIServer(t *testing.T) {
	c := kubetest.Shared(t)
	fixtures := filepath.Join(repoRoot(t), "testdata", "fixtures")
	runner := c.RunPods(t, "dumptest", "offline", map[string]kubetest.StandInNode{
		"off-a": {Sysroot: filepath.Join(fixtures, "teleport-node")},
		"off-b": {Sysroot: filepath.Join(fixtures, "k3s-server")},
		"off-c": {PullFails: true},
	}, standIn(t))
	kubectl, _ := exec.LookPath("kubectl")

	start := time.Now()
	r := runDump(t, t.TempDir(), []string{"PATH=" + filepath.Dir(kubectl) + ":" + os.Getenv("PATH")}, "gather", "--cluster", "--node-selector", "dumptest=offline",
		"--kubeconfig", c.AdminKubeconfig, "--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec), "--node-timeout", "2m")
	t.Logf("offline three-node cluster dump through the API server: %s", time.Since(start).Round(100*time.Millisecond))
	if r.code != 3 || !strings.Contains(r.stderr, "off-c") || !strings.Contains(r.stderr, "image pull back-off") {
		t.Fatalf("one node failing must give exit 3 naming it and saying why: %s", r)
	}
	if left := leftovers(t, c); left != "" {
		t.Errorf("labelled objects left in the cluster:\n%s", left)
	}
	if !strings.HasSuffix(r.lastLine(), ".tar.zst") {
		t.Fatalf("gather --cluster does not end with the local dump's path: %s", r)
	}
	tree := untar(t, r.lastLine())
	if got := readFile(t, filepath.Join(tree, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Errorf("the initiator's part is not at the top: greeting.txt = %q", got)
	}
	for node, want := range map[string][2]string{"off-a": {"teleport.yaml", "registries.yaml"}, "off-b": {"registries.yaml", "teleport.yaml"}} {
		var found []string
		filepath.Walk(filepath.Join(tree, "nodes", node), func(p string, info os.FileInfo, err error) error {
			if err == nil {
				found = append(found, info.Name())
			}
			return nil
		})
		if !slices.Contains(found, "manifest.json") || !slices.Contains(found, want[0]) || slices.Contains(found, want[1]) {
			t.Errorf("nodes/%s is not the tree of its own fixture root (want manifest.json and %s, no %s): %v", node, want[0], want[1], found)
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "nodes", "off-c")); err == nil {
		t.Errorf("the failed node has a tree")
	}
	if report := readFile(t, filepath.Join(tree, "report.txt")); !strings.Contains(report, "off-c") || !strings.Contains(report, "image_pull (1)") {
		t.Errorf("report.txt does not say why off-c has no part:\n%s", report)
	}
	for _, p := range runner.Pods() {
		if !bytes.Contains(p, []byte(`"command":["sleep","120"]`)) || bytes.Contains(bytes.ToUpper(p), []byte("AGE-SECRET-KEY-")) {
			t.Errorf("an offline node pod must only hold its node (the command comes by exec) and hold no secret:\n%s", p)
		}
	}
	stdout, wire := runner.ExecBytes()
	t.Logf("through the API server for 2 node parts: %d bytes of sealed parts, %d bytes from the stand-in kubelet (%.2f%% more)", stdout, wire, 100*float64(wire-stdout)/float64(stdout))
}

// gather-upload-confirm --cluster asks before it creates anything in the
// cluster, and again, as for one host, before the upload and the key.
func TestClusterConfirm(t *testing.T) {
	c := kubetest.Shared(t)
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	_, recipient := keygen(t)
	fixtures := filepath.Join(repoRoot(t), "testdata", "fixtures")
	runner := c.RunPods(t, "dumptest", "confirm", map[string]kubetest.StandInNode{
		"conf-a": {Sysroot: filepath.Join(fixtures, "teleport-node")},
		"conf-b": {Sysroot: filepath.Join(fixtures, "k3s-server")},
	}, standIn(t))
	env := append(baseEnv(t), clusterEnv(t, srv)...)
	const id = "c0f1a2b3-0000-4000-8000-00000000000c"
	args := []string{"gather-upload-confirm", "--cluster", "--node-selector", "dumptest=confirm", "--kubeconfig", c.AdminKubeconfig,
		"--to", "s3://support/confirm", "--recipient", recipient, "--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec), "--uuid", id}
	stored := func() []string {
		out, err := srv.Client().ListObjectsV2(context.Background(), &s3sdk.ListObjectsV2Input{Bucket: aws.String("support"), Prefix: aws.String("confirm/")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, strings.TrimPrefix(*o.Key, "confirm/"+id+"/"))
		}
		return keys
	}

	out, code := runOnTerminalEnv(t, env, "n\n", args...)
	for _, want := range []string{"About to gather cluster dump " + id, "context", c.Server, "conf-a", "conf-b", "namespace default", defaultImage,
		"read-only", "s3://support/confirm", "no key, no bucket credentials", "Gather these nodes?", "nothing was created"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the terminal did not show %q before the cluster dump:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("declining must exit 1, got %d:\n%s", code, out)
	}
	if pods := runner.Pods(); len(pods) != 0 || leftovers(t, c) != "" {
		t.Errorf("the user said no, yet %d node pod(s) were created:\n%s", len(pods), leftovers(t, c))
	}
	if keys := stored(); len(keys) != 0 {
		t.Errorf("the user said no, yet the bucket holds %v", keys)
	}

	// Yes to the nodes and the upload, no to the key: everything but key.age
	// goes up, and the key shown on the terminal opens the whole dump.
	out, code = runOnTerminalEnv(t, env, "y\ny\nn\n", args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"2 of 2 node parts are in the bucket", "About to upload", "Upload?", "Include the encrypted key", "key=AGE-SECRET-KEY-1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the terminal did not show %q after gathering:\n%s", want, out)
		}
	}
	keys := stored()
	slices.Sort(keys)
	if !slices.Contains(keys, "nodes/conf-a.tar.zst.age") || !slices.Contains(keys, "dump.tar.zst.age") || slices.Contains(keys, "key.age") {
		t.Errorf("bucket after yes, yes, no to the key: %v (want the node parts and the cluster part, no key.age)", keys)
	}
	key := out[strings.Index(out, "key=AGE-SECRET-KEY-1"):]
	key = strings.TrimSpace(strings.SplitN(key, "\n", 2)[0])
	d := runDump(t, t.TempDir(), append(srv.Env(), "DUMP_KEY="+key), "decrypt", "--from", "s3://support/confirm", "--out", t.TempDir(), id)
	if d.code != 0 {
		t.Fatalf("the key shown on the terminal does not open the cluster dump: %s", d)
	}
	if _, err := os.Stat(filepath.Join(d.lastLine(), "nodes", "conf-b", "manifest.json")); err != nil {
		t.Errorf("no tree of conf-b: %v", err)
	}
	if left := leftovers(t, c); left != "" {
		t.Errorf("labelled objects left in the cluster:\n%s", left)
	}
}

// interrupt sends a running cluster dump SIGINT (Ctrl-C) and waits up to
// within for it to end, which it must do with a non-zero exit.
func interrupt(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, within time.Duration) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("an interrupted cluster dump exited 0:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "dump: stopped by Ctrl-C (SIGINT)") {
			t.Errorf("an interrupted cluster dump does not say why it stopped:\n%s", stderr.String())
		}
	case <-time.After(within):
		cmd.Process.Kill()
		t.Fatalf("the interrupted dump did not end:\n%s", stderr.String())
	}
}
