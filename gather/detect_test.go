package gather

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/fixturetest"
)

func detected(ds []Detection) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Profile] = d.Reason
	}
	return m
}

func noKubeEnv(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("HOME", t.TempDir()) // no ~/.kube/config
}

func TestDetectFixtures(t *testing.T) {
	noKubeEnv(t)
	fixturetest.UseFakeTools(t) // fake teleport and k3s in PATH must not count under a sysroot
	fakeKubectl(t, `echo "error: current-context is not set" >&2; exit 1`)
	for _, tc := range []struct {
		fixture, want, notWant, reason string
	}{
		{"teleport-node", "teleport", "k3s", "/etc/teleport.yaml"},
		{"k3s-server", "k3s", "teleport", "/etc/rancher/k3s"},
	} {
		got := detected(Detect(context.Background(), Env{Sysroot: fixturetest.Testdata(t) + "/fixtures/" + tc.fixture}))
		if got["host"] == "" {
			t.Errorf("%s: host not detected", tc.fixture)
		}
		if !strings.Contains(got[tc.want], tc.reason) {
			t.Errorf("%s: %s reason %q, want it to name %s", tc.fixture, tc.want, got[tc.want], tc.reason)
		}
		if r, ok := got[tc.notWant]; ok {
			t.Errorf("%s: %s detected: %s", tc.fixture, tc.notWant, r)
		}
		if r, ok := got["kube"]; ok {
			t.Errorf("%s: kube detected without a context: %s", tc.fixture, r)
		}
	}
}

func TestDetectBinaryUnderSysroot(t *testing.T) {
	noKubeEnv(t)
	t.Setenv("PATH", "")
	root := t.TempDir()
	writeFile(t, root, "usr/local/bin/teleport", "#!/bin/sh\n")
	if err := chmodX(root + "/usr/local/bin/teleport"); err != nil {
		t.Fatal(err)
	}
	got := detected(Detect(context.Background(), Env{Sysroot: root}))
	if !strings.Contains(got["teleport"], "teleport binary at "+root+"/usr/local/bin/teleport") {
		t.Errorf("teleport reason %q", got["teleport"])
	}
}

// On the live host, binaries in PATH count.
func TestDetectLiveHostUsesPath(t *testing.T) {
	noKubeEnv(t)
	t.Setenv("PATH", fixturetest.Bin(t))
	got := detected(Detect(context.Background(), Env{Sysroot: "/"}))
	if !strings.Contains(got["teleport"], fixturetest.Bin(t)+"/teleport") || !strings.Contains(got["k3s"], fixturetest.Bin(t)+"/k3s") {
		t.Errorf("detections %v, want teleport and k3s from PATH", got)
	}
}

// kube is detected only for a kubeconfig that exists and whose context
// answers /readyz; the reason names both.
func TestDetectKube(t *testing.T) {
	noKubeEnv(t)
	root := t.TempDir()
	fixturetest.UseFakeTools(t) // answers /readyz with ok
	if r, ok := detected(Detect(context.Background(), Env{Sysroot: root}))["kube"]; ok {
		t.Errorf("no kubeconfig anywhere, detected: %q", r)
	}
	t.Setenv("KUBECONFIG", "/nonexistent/config")
	if r, ok := detected(Detect(context.Background(), Env{Sysroot: root}))["kube"]; ok {
		t.Errorf("KUBECONFIG naming a missing file, detected: %q", r)
	}
	cfg := kubeconfigFile(t)
	t.Setenv("KUBECONFIG", cfg)
	if r := detected(Detect(context.Background(), Env{Sysroot: root}))["kube"]; r != "kubeconfig "+cfg+`: context "default" answers /readyz` {
		t.Errorf("KUBECONFIG: reason %q", r)
	}
	flag := kubeconfigFile(t)
	env := Env{Sysroot: root, KubeTarget: KubeTarget{Kubeconfig: flag, Context: "prod"}}
	if r := detected(Detect(context.Background(), env))["kube"]; r != "kubeconfig "+flag+`: context "prod" answers /readyz` {
		t.Errorf("--kubeconfig --context: reason %q", r)
	}
	fakeKubectl(t, `echo "The connection to the server 10.0.0.1:6443 was refused" >&2; exit 1`)
	if r, ok := detected(Detect(context.Background(), Env{Sysroot: root}))["kube"]; ok {
		t.Errorf("a context that does not answer, detected: %q", r)
	}
}

// The probe runs kubectl with the children's environment, not ours: no
// credential of the user's reaches it.
func TestDetectKubeChildGetsNoSecrets(t *testing.T) {
	noKubeEnv(t)
	t.Setenv("KUBECONFIG", kubeconfigFile(t))
	t.Setenv("AWS_SECRET_ACCESS_KEY", "-leaked")
	fakeKubectl(t, `echo "ok${AWS_SECRET_ACCESS_KEY:-}"`)
	if r, ok := detected(Detect(context.Background(), Env{Sysroot: t.TempDir()}))["kube"]; !ok {
		t.Errorf("not detected: the child saw our environment (reason %q)", r)
	}
}

// kubeconfigFile makes a kubeconfig for a fake kubectl, which ignores it.
func kubeconfigFile(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, dir, "config", "apiVersion: v1\nkind: Config\n")
	return dir + "/config"
}

// fakeKubectl puts first in PATH a kubectl running the shell script body.
func fakeKubectl(t *testing.T, body string) {
	dir := t.TempDir()
	writeFile(t, dir, "kubectl", "#!/bin/sh\n"+body+"\n")
	if err := chmodX(dir + "/kubectl"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func chmodX(p string) error { return os.Chmod(p, 0o755) }
