package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/kubetest"
)

// The kube profile against a real kube-apiserver and etcd, populated like a
// Teleport install (internal/kubetest); only the kubelet is a stand-in.

// kubeGather runs `dump gather --profile kube` with the real kubectl first in
// PATH and returns the extracted tree and how long it took.
func kubeGather(t *testing.T, args ...string) (result, string, time.Duration) {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	start := time.Now()
	r := runDump(t, t.TempDir(), []string{"PATH=" + filepath.Dir(kubectl) + ":" + os.Getenv("PATH"), "DUMP_QUIET=false"},
		append([]string{"gather", "--profile", "kube", "--out", out}, args...)...)
	took := time.Since(start)
	if !strings.HasSuffix(r.lastLine(), ".tar.zst") {
		t.Fatalf("no dump written: %s", r)
	}
	return r, untar(t, r.lastLine()), took
}

// listable is what `kubectl api-resources --verbs=list -o name` says, as the
// user of kubeconfig.
func listable(t *testing.T, kubeconfig string, namespaced bool) []string {
	t.Helper()
	out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "api-resources", "--verbs=list", "-o", "name",
		"--namespaced="+map[bool]string{true: "true", false: "false"}[namespaced]).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// An admin gathers all namespaces at once: every listable type, no Secret
// value in any encoding, pods' logs, events and describes, and a word on
// each container that never started.
func TestKubeAdmin(t *testing.T) {
	c := kubetest.Shared(t)
	r, tree, took := kubeGather(t, "--kubeconfig", c.AdminKubeconfig)
	t.Logf("admin kube gather: %s", took.Round(100*time.Millisecond))
	t.Run("every type", func(t *testing.T) { adminGetsEveryType(t, c, r, tree) })
	t.Run("pods", func(t *testing.T) { adminPodsLogsEventsDescribe(t, tree) })
	t.Run("never started", func(t *testing.T) { adminNeverStartedContainers(t, tree) })
}

func adminGetsEveryType(t *testing.T, c *kubetest.Cluster, r result, tree string) {
	if r.code != 0 {
		t.Fatalf("admin gather incomplete: %s\n%s", r, readFile(t, filepath.Join(tree, "report.txt")))
	}
	types := append(listable(t, c.AdminKubeconfig, true), listable(t, c.AdminKubeconfig, false)...)
	var missing []string
	for _, typ := range types {
		if _, err := os.Stat(filepath.Join(tree, "kube", "kubectl_get_"+typ+".yaml")); err != nil {
			missing = append(missing, typ)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d listable types missing: %q", len(missing), len(types), missing)
	}
	t.Logf("admin: %d of %d listable types collected", len(types)-len(missing), len(types))
	if crd := readFile(t, filepath.Join(tree, "kube", "kubectl_get_teleportroles.resources.teleport.dev.yaml")); !strings.Contains(crd, kubetest.CustomObject) {
		t.Errorf("the custom object is not in its file:\n%s", crd)
	}

	all := concatTree(t, tree)
	for _, secret := range []string{kubetest.SecretPlain, kubetest.SecretBase64, kubetest.ConfigMapToken, kubetest.HelmValuePassword} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(all, form) {
				t.Errorf("secret %q reached the dump (as %q)", secret, form)
			}
		}
	}
	secrets := readFile(t, filepath.Join(tree, "kube", "kubectl_get_secrets.yaml"))
	for _, want := range []string{"name: teleport-join", "type: Opaque", "name: sh.helm.release.v1.teleport.v1", "key: token\n      bytes: " + strconv.Itoa(len(kubetest.SecretPlain)), "key: ca-pin\n      bytes: " + strconv.Itoa(len(kubetest.SecretBase64))} {
		if !strings.Contains(secrets, want) {
			t.Errorf("Secrets summary lacks %q:\n%s", want, secrets)
		}
	}
	cm := readFile(t, filepath.Join(tree, "kube", "kubectl_get_configmaps.yaml"))
	if !strings.Contains(cm, "cluster_name: teleport.example.com") || !strings.Contains(cm, "[redacted:") {
		t.Errorf("the ConfigMap's teleport.yaml is missing or its token not redacted:\n%s", cm)
	}
	helm := readFile(t, filepath.Join(tree, "kube", "helm_releases.yaml"))
	for _, want := range []string{"stored_in: sh.helm.release.v1.teleport.v1", "chart: " + kubetest.HelmChart, "chart_version: " + kubetest.HelmChartVersion, "status: deployed", "revision: 1", "clusterName: " + kubetest.HelmClusterName} {
		if !strings.Contains(helm, want) {
			t.Errorf("helm_releases.yaml lacks %q:\n%s", want, helm)
		}
	}

	// The short Secret value "teleport" is the namespace's name too: no path
	// may have been rewritten.
	m, err := gather.ReadManifest(tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range m.Collectors {
		for _, o := range col.Outputs {
			if _, err := os.Stat(filepath.Join(tree, o)); err != nil {
				t.Errorf("manifest names %s, not in the tree", o)
			}
		}
	}
	if m.Kube == nil || !m.Kube.AllNamespaces || !strings.Contains(m.Kube.NamespacesWhy, "can-i list pods -A") {
		t.Errorf("manifest does not say why all namespaces were gathered: %+v", m.Kube)
	}
}

// Pods: logs with timestamps within --since, the run before the restart,
// init containers, events in time order, describe of pods not Ready.
func adminPodsLogsEventsDescribe(t *testing.T, tree string) {
	kube := filepath.Join(tree, "kube")
	logs := readFile(t, filepath.Join(kube, "kubectl_logs_teleport_"+kubetest.RunningPod+"_teleport.log"))
	if !strings.Contains(logs, kubetest.CurrentLogLine) || strings.Contains(logs, kubetest.OldLogLine) {
		t.Errorf("teleport log:\n%s", logs)
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(logs)[0]); err != nil {
		t.Errorf("log line without its timestamp: %q", logs)
	}
	if prev := readFile(t, filepath.Join(kube, "kubectl_logs_teleport_"+kubetest.RunningPod+"_teleport_previous.log")); !strings.Contains(prev, kubetest.PreviousLogLine) {
		t.Errorf("previous log:\n%s", prev)
	}
	if init := readFile(t, filepath.Join(kube, "kubectl_logs_teleport_"+kubetest.RunningPod+"_wait-for-backend.log")); !strings.Contains(init, kubetest.InitLogLine) {
		t.Errorf("init container log:\n%s", init)
	}
	events := readFile(t, filepath.Join(kube, "events.txt"))
	order := []string{"Scheduled", "FailedScheduling", "BackOff"} // 50, 30 and 10 minutes ago
	at := func(s string) int { return strings.Index(events, "  "+s+"  ") }
	if at(order[0]) < 0 || at(order[0]) > at(order[1]) || at(order[1]) > at(order[2]) {
		t.Errorf("events not in time order %q:\n%s", order, events)
	}
	for _, pod := range []string{kubetest.PendingPod, kubetest.PullBackOffPod} {
		if d := readFile(t, filepath.Join(kube, "kubectl_describe_pod_teleport_"+pod+".txt")); !strings.Contains(d, "Name:") {
			t.Errorf("describe of %s:\n%s", pod, d)
		}
	}
}

// A container that never started has no log file, empty or not, and the
// manifest and report say why.
func adminNeverStartedContainers(t *testing.T, tree string) {
	for _, pod := range []string{kubetest.PendingPod, kubetest.PullBackOffPod} {
		matches, _ := filepath.Glob(filepath.Join(tree, "kube", "kubectl_logs_teleport_"+pod+"_*"))
		if len(matches) > 0 {
			t.Errorf("files for a pod that never started: %q", matches)
		}
	}
	m, err := gather.ReadManifest(tree)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, c := range m.Collectors {
		notes = append(notes, c.Notes...)
	}
	for pod, why := range map[string]string{kubetest.PendingPod: "Unschedulable", kubetest.PullBackOffPod: "ImagePullBackOff"} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, pod) && strings.Contains(n, why) }) {
			t.Errorf("no note saying %s never started (%s): %q", pod, why, notes)
		}
		if rep := readFile(t, filepath.Join(tree, "report.txt")); !strings.Contains(rep, pod) {
			t.Errorf("report.txt does not mention %s", pod)
		}
	}
}

// A user who may read one namespace gets that namespace, and for each type
// refused an .error saying which permission to ask for: exit 3, not an
// empty dump.
func TestKubeNamespacedViewer(t *testing.T) {
	c := kubetest.Shared(t)
	r, tree, took := kubeGather(t, "--kubeconfig", c.ViewerKubeconfig)
	t.Logf("viewer kube gather: %s", took.Round(100*time.Millisecond))
	if r.code != 3 {
		t.Fatalf("viewer: exit %d, want 3 (some types refused)\n%s", r.code, r)
	}
	m, err := gather.ReadManifest(tree)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kube == nil || !slices.Equal(m.Kube.Namespaces, []string{kubetest.Namespace}) || !strings.Contains(m.Kube.NamespacesWhy, "context's namespace") {
		t.Fatalf("namespaces: %+v", m.Kube)
	}
	ns := filepath.Join(tree, "kube", kubetest.Namespace)
	if pods := readFile(t, filepath.Join(ns, "kubectl_get_pods.yaml")); !strings.Contains(pods, kubetest.RunningPod) {
		t.Errorf("the viewer's pods are missing:\n%s", pods)
	}
	if logs := readFile(t, filepath.Join(ns, "kubectl_logs_teleport_"+kubetest.RunningPod+"_teleport.log")); !strings.Contains(logs, kubetest.CurrentLogLine) {
		t.Errorf("the viewer's pod logs are missing:\n%s", logs)
	}
	for file, check := range map[string]string{
		filepath.Join(ns, "kubectl_get_secrets.error"):                                          "auth can-i list secrets -n teleport",
		filepath.Join(ns, "kubectl_get_roles.rbac.authorization.k8s.io.error"):                  "auth can-i list roles.rbac.authorization.k8s.io -n teleport",
		filepath.Join(tree, "kube", "kubectl_get_nodes.error"):                                  "auth can-i list nodes",
		filepath.Join(tree, "kube", "kubectl_get_namespaces.error"):                             "auth can-i list namespaces",
		filepath.Join(tree, "kube", "kubectl_get_clusterroles.rbac.authorization.k8s.io.error"): "auth can-i list clusterroles",
	} {
		e := readFile(t, file)
		if !strings.Contains(e, check) || !strings.Contains(e, "RBAC") || strings.Contains(e, "root") {
			t.Errorf("%s: no RBAC hint with %q:\n%s", file, check, e)
		}
	}
	// A refused list leaves no list file that would read as "there are none".
	errs, _ := filepath.Glob(filepath.Join(tree, "kube", "*.error"))
	nsErrs, _ := filepath.Glob(filepath.Join(ns, "*.error"))
	for _, e := range append(errs, nsErrs...) {
		if _, err := os.Stat(strings.TrimSuffix(e, ".error") + ".yaml"); err == nil {
			t.Errorf("%s has a list file next to its .error", e)
		}
	}
	types := append(listable(t, c.AdminKubeconfig, true), listable(t, c.AdminKubeconfig, false)...)
	got := 0
	for _, typ := range types {
		for _, dir := range []string{ns, filepath.Join(tree, "kube")} {
			if _, err := os.Stat(filepath.Join(dir, "kubectl_get_"+typ+".yaml")); err == nil {
				got++
			}
		}
	}
	t.Logf("viewer: %d of %d listable types collected, %d refused", got, len(types), len(errs)+len(nsErrs))
	if !strings.Contains(r.stderr, "kube_forbidden") {
		t.Errorf("summary does not group the refusals:\n%s", r.stderr)
	}
}

// A control plane that cannot serve lists (etcd frozen) or is gone costs
// seconds: the kube part gives up within 30 s, the summary names the cause,
// and the rest of the dump is there. Pod logs behind a kubelet that never
// answers make the dump incomplete.
func TestKubeSickControlPlane(t *testing.T) {
	c := kubetest.Start(t) // this test breaks its cluster
	rest := writeSpec(t, "- name: uname\n  kind: run\n  command: [uname, -a]\n  output: system/uname.txt\n")

	t.Run("wedged kubelet", func(t *testing.T) {
		c.AddWedgedPod(t)
		r, tree, took := kubeGather(t, "--kubeconfig", c.AdminKubeconfig, "-n", kubetest.WedgedNamespace)
		t.Logf("gather with a wedged kubelet: %s", took.Round(100*time.Millisecond))
		if r.code != 3 || !strings.Contains(r.stderr, "kube-logs-"+kubetest.WedgedNamespace) {
			t.Errorf("logs that cannot be read: exit %d, want 3 naming kube-logs-%s\n%s", r.code, kubetest.WedgedNamespace, r)
		}
		if _, err := os.Stat(filepath.Join(tree, "kube", kubetest.WedgedNamespace, "kubectl_logs_edge_edge-agent-0_agent.error")); err != nil {
			t.Errorf("no .error for the logs that failed: %v", err)
		}
	})

	t.Run("etcd frozen", func(t *testing.T) {
		c.FreezeEtcd(t)
		r, tree, took := kubeGather(t, "--kubeconfig", c.AdminKubeconfig, "--spec", rest)
		t.Logf("gather with etcd frozen: %s", took.Round(100*time.Millisecond))
		if took > 30*time.Second {
			t.Errorf("took %s with etcd frozen, want the kube part to give up within 30s", took)
		}
		if r.code != 3 || !strings.Contains(r.stderr, "kube: the API server") || !strings.Contains(r.stderr, "[-]etcd") {
			t.Errorf("summary does not name etcd: exit %d\n%s", r.code, r)
		}
		if rep := readFile(t, filepath.Join(tree, "report.txt")); !strings.Contains(rep, "! kube: the API server") || !strings.Contains(rep, "[-]etcd") {
			t.Errorf("report.txt does not warn about etcd:\n%s", rep)
		}
		if ready := readFile(t, filepath.Join(tree, "kube", "readyz.txt")); !strings.HasPrefix(ready, "[+]ping ok\n") || !strings.Contains(ready, "\n[-]etcd") {
			t.Errorf("readyz.txt:\n%s", ready)
		}
		if u := readFile(t, filepath.Join(tree, "system", "uname.txt")); u == "" {
			t.Error("the rest of the dump is missing")
		}
	})

	t.Run("API server stopped", func(t *testing.T) {
		c.StopAPIServer(t)
		r, tree, took := kubeGather(t, "--kubeconfig", c.AdminKubeconfig, "--spec", rest)
		t.Logf("gather with the API server stopped: %s", took.Round(100*time.Millisecond))
		if took > 30*time.Second {
			t.Errorf("took %s with the API server down", took)
		}
		if r.code != 3 || !strings.Contains(r.stderr, "kube: the API server") || !strings.Contains(r.stderr, "did not answer") {
			t.Errorf("summary does not say the API server is unreachable: exit %d\n%s", r.code, r)
		}
		m, err := gather.ReadManifest(tree)
		if err != nil {
			t.Fatal(err)
		}
		var kube []string
		for _, col := range m.Collectors {
			if col.Category == "kube" && col.Status != gather.StatusOK {
				kube = append(kube, col.Name)
			}
		}
		if !slices.Equal(kube, []string{"kube-health"}) {
			t.Errorf("failed kube collectors %q, want kube-health saying why", kube)
		}
		if u := readFile(t, filepath.Join(tree, "system", "uname.txt")); u == "" {
			t.Error("the rest of the dump is missing")
		}
	})
}

// kubectl's own flags choose the namespaces, from the command line or the
// environment; contradictions and bad names are usage errors.
func TestKubeNamespaceFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"-n", "teleport", "-A"}, "", "--namespace and --all-namespaces exclude each other"},
		{[]string{"--namespace", "Bad_NS"}, "", `--namespace "Bad_NS" is not a Kubernetes namespace name`},
		{nil, "DUMP_NAMESPACE=Bad_NS", `--namespace "Bad_NS" is not a Kubernetes namespace name`},
	} {
		r := runDump(t, t.TempDir(), []string{tc.env}, append([]string{"gather", "--profile", "kube", "--out", t.TempDir()}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q %s: want exit 2 saying %q: %s", tc.args, tc.env, tc.want, r)
		}
	}

	c := kubetest.Shared(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + filepath.Dir(kubectl) + ":" + os.Getenv("PATH")
	for _, tc := range []struct {
		env  []string
		args []string
		want []string
	}{
		{[]string{path}, []string{"-n", "teleport", "-n", "kube-system"}, []string{"kube/teleport ", "kube/kube-system "}},
		{[]string{path, "DUMP_NAMESPACE=teleport"}, nil, []string{"kube/teleport "}},
		{[]string{path, "DUMP_ALL_NAMESPACES=true"}, nil, []string{"pods in all namespaces (at most"}},
	} {
		r := runDump(t, t.TempDir(), tc.env, append([]string{"gather", "--dry-run", "--profile", "kube", "--kubeconfig", c.AdminKubeconfig}, tc.args...)...)
		for _, w := range tc.want {
			if r.code != 0 || !strings.Contains(r.stdout, w) {
				t.Errorf("%q %q: the plan lacks %q: %s", tc.env[1:], tc.args, w, r)
			}
		}
		if len(tc.want) == 1 && strings.Contains(r.stdout, "kube/kube-system ") {
			t.Errorf("%q %q: kube-system planned too:\n%s", tc.env[1:], tc.args, r.stdout)
		}
	}
}
