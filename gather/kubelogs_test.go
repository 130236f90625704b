package gather

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/fixturetest"
)

func kubeLogsCollector(name, output, namespace string) Collector {
	return Collector{Name: name, Category: "kube", Kind: KindKubeLogs, Output: output, Namespace: namespace}
}

// useFakeKubectl puts the fake kubectl first in PATH, talking to its
// cluster whatever the machine's KUBECONFIG says.
func useFakeKubectl(t *testing.T) {
	fixturetest.UseFakeTools(t)
	t.Setenv("KUBECONFIG", "")
}

// The fake cluster has 4 pods in 3 namespaces; web-5d8f7c9b6-abcde has an
// init container and 2 containers, one of which (web) never started.
const (
	kubeLogCoreDNS  = "kubectl_logs_kube-system_coredns-7b98449c4-x2kqp_coredns.log"
	kubeLogHelm     = "kubectl_logs_kube-system_helm-install-traefik-crd-5xk2p_helm.log"
	kubeLogExporter = "kubectl_logs_monitoring_node-exporter-q7w4z_node-exporter.log"
	kubeLogMigrate  = "kubectl_logs_default_web-5d8f7c9b6-abcde_migrate.log"
	kubeLogShipper  = "kubectl_logs_default_web-5d8f7c9b6-abcde_log-shipper.log"
	kubeLogWeb      = "kubectl_logs_default_web-5d8f7c9b6-abcde_web.log"
	kubeWebDescribe = "kubectl_describe_pod_default_web-5d8f7c9b6-abcde.txt"
)

func TestKubeLogsOneFilePerContainer(t *testing.T) {
	useFakeKubectl(t)
	withProfiles(t, kubeLogsCollector("kube-logs", "kube", ""), kubeLogsCollector("default-logs", "ns/default", "default"))
	res := mustRun(t, testOptions(t))

	r := result(t, res, "kube-logs")
	if r.Status != StatusOK || r.Error != "" {
		t.Fatalf("status %s (%s)", r.Status, r.Error)
	}
	// web never started: no file, a note with the reason.
	if !slices.Contains(r.Notes, "default/web-5d8f7c9b6-abcde/web: no logs, the container never started: Pending, ImagePullBackOff, Back-off pulling image") {
		t.Errorf("notes %q do not say why web has no logs", r.Notes)
	}
	logs := []string{kubeLogCoreDNS, kubeLogHelm, kubeLogExporter, kubeLogMigrate, kubeLogShipper}
	for i := range logs {
		logs[i] = "kube/" + logs[i]
	}
	want := append([]string{"kube/events.txt", "kube/" + kubeWebDescribe}, logs...)
	if got := slices.Sorted(slices.Values(r.Outputs)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("outputs\n got  %q\n want %q", got, want)
	}
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \S`)
	for _, rel := range logs {
		fi, err := os.Stat(filepath.Join(res.Dir, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", rel, fi.Mode().Perm())
		}
		body := readOut(t, res, rel)
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		if len(lines) < 2 {
			t.Errorf("%s: %d lines: %q", rel, len(lines), body)
		}
		for _, l := range lines {
			if !stamped.MatchString(l) {
				t.Errorf("%s: line without its timestamp: %q", rel, l)
			}
		}
	}
	for _, f := range []string{kubeLogWeb, "kubectl_logs_default_web-5d8f7c9b6-abcde_web.error"} {
		if _, err := os.Stat(filepath.Join(res.Dir, "kube", f)); err == nil {
			t.Errorf("%s written for a container that never started", f)
		}
	}
	if ev := readOut(t, res, "kube/events.txt"); !strings.Contains(ev, "2026-01-01T09:05:00.000000Z  default    Warning  Failed  pod/web-5d8f7c9b6-abcde") {
		t.Errorf("events.txt:\n%s", ev)
	}
	if m := readOut(t, res, "kube/"+kubeLogMigrate); strings.Contains(m, "DUMPTESTSECRET") || !strings.Contains(m, "12 migrations applied") {
		t.Errorf("migrate log not redacted or lost:\n%s", m)
	}
	if r.Redactions.Total() == 0 {
		t.Error("no redactions counted for the planted password")
	}

	// One namespace: only its pods.
	d := result(t, res, "default-logs")
	wantNS := []string{"ns/default/events.txt", "ns/default/" + kubeWebDescribe, "ns/default/" + kubeLogMigrate, "ns/default/" + kubeLogShipper}
	if got := slices.Sorted(slices.Values(d.Outputs)); d.Status != StatusOK || !slices.Equal(got, slices.Sorted(slices.Values(wantNS))) {
		t.Errorf("namespace default: status %s outputs %q, want %q", d.Status, got, wantNS)
	}

	m, err := ReadManifest(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Collectors {
		if c.Name == "kube-logs" && !slices.Equal(c.Outputs, r.Outputs) {
			t.Errorf("manifest outputs %q, want %q", c.Outputs, r.Outputs)
		}
	}
	if rep := m.Report(); !strings.Contains(rep, "- kube-logs: default/web-5d8f7c9b6-abcde/web: no logs, the container never started: Pending, ImagePullBackOff") {
		t.Errorf("report.txt does not say why web has no logs:\n%s", rep)
	}
}

func TestKubeLogsCapsContainersNewestFirst(t *testing.T) {
	useFakeKubectl(t)
	old := kubeLogsMaxContainers
	t.Cleanup(func() { kubeLogsMaxContainers = old })
	kubeLogsMaxContainers = 4
	withProfiles(t, kubeLogsCollector("kube-logs", "kube", ""))
	res := mustRun(t, testOptions(t))

	r := result(t, res, "kube-logs")
	if r.Status != StatusOK || !strings.Contains(r.Error, "1 of 5 containers left out (at most 4, newest pods first)") {
		t.Errorf("status %s error %q", r.Status, r.Error)
	}
	// web (newest, 2 containers that ran), node-exporter and coredns are in; the oldest kube-system pod is not.
	want := []string{"kube/events.txt", "kube/" + kubeWebDescribe, "kube/" + kubeLogMigrate, "kube/" + kubeLogShipper, "kube/" + kubeLogExporter, "kube/" + kubeLogCoreDNS}
	if got := slices.Sorted(slices.Values(r.Outputs)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("outputs %q, want %q", got, want)
	}
}

// One container whose logs cannot be read makes the dump incomplete (exit 3),
// and the refusal says which permission to ask for.
func TestKubeLogsFailWhenAContainerFails(t *testing.T) {
	useFakeKubectl(t)
	// Lists pods like kubectl, but the kubelet refuses every log request.
	wrapper := filepath.Join(t.TempDir(), "kubectl-wrapper")
	script := "#!/bin/sh\ncase \"$1\" in get) exec kubectl \"$@\" ;; esac\n" +
		"echo 'Error from server (Forbidden): pods \"x\" is forbidden: User \"dump\" cannot get resource \"pods/log\"' >&2\nexit 1\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	c := kubeLogsCollector("kube-logs", "kube", "monitoring")
	c.Command = []string{wrapper}
	withProfiles(t, c)
	res := mustRun(t, testOptions(t))

	r := result(t, res, "kube-logs")
	if r.Status != StatusFailed || r.FailureKind != FailKubeForbidden || !strings.Contains(r.Error, "1 of 2 calls failed: monitoring/node-exporter-q7w4z/node-exporter") {
		t.Errorf("status %s kind %s error %q", r.Status, r.FailureKind, r.Error)
	}
	errFile := "kube/kubectl_logs_monitoring_node-exporter-q7w4z_node-exporter.error"
	if !slices.Equal(r.Outputs, []string{"kube/events.txt", errFile}) {
		t.Errorf("outputs %q", r.Outputs)
	}
	if e := readOut(t, res, errFile); !strings.Contains(e, "auth can-i get pods/log -n monitoring") || strings.Contains(e, "root") {
		t.Errorf(".error without the RBAC hint:\n%s", e)
	}
}

func TestKubeLogsMissingKubectlOrAPI(t *testing.T) {
	t.Run("no kubectl", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		opt := kubeLogsCollector("opt-logs", "opt", "")
		opt.Optional = true
		withProfiles(t, kubeLogsCollector("kube-logs", "kube", ""), opt)
		res := mustRun(t, testOptions(t))
		r := result(t, res, "kube-logs")
		if r.Status != StatusFailed || r.FailureKind != FailBinaryMissing || r.ErrorFile != "kube/kubectl_logs.error" {
			t.Errorf("status %s kind %s error file %q", r.Status, r.FailureKind, r.ErrorFile)
		}
		if e := readOut(t, res, "kube/kubectl_logs.error"); !strings.Contains(e, "kubectl: not found in PATH") {
			t.Errorf(".error = %q", e)
		}
		if o := result(t, res, "opt-logs"); o.Status != StatusSkipped {
			t.Errorf("optional: status %s, want skipped", o.Status)
		}
	})
	t.Run("API unreachable", func(t *testing.T) {
		fixturetest.UseFakeTools(t)
		t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
		withProfiles(t, kubeLogsCollector("kube-logs", "kube", ""))
		res := mustRun(t, testOptions(t))
		r := result(t, res, "kube-logs")
		if r.Status != StatusFailed || r.FailureKind != FailAPIUnreachable || len(r.Outputs) != 0 {
			t.Errorf("status %s kind %s outputs %q", r.Status, r.FailureKind, r.Outputs)
		}
		if e := readOut(t, res, "kube/kubectl_logs.error"); !strings.Contains(e, "localhost:8080 was refused") {
			t.Errorf(".error = %q", e)
		}
	})
}

func TestKubeLogsDryRunAndSpec(t *testing.T) {
	withProfiles(t, kubeLogsCollector("kube-logs", "kube", ""))
	spec := writeSpec(t, "- name: app-logs\n  kind: kube_logs\n  namespace: shop\n  command: [k3s, kubectl]\n  output: custom/shop\n")
	opts := testOptions(t)
	opts.SpecFiles = []string{spec}
	p, err := NewPlan(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteDryRun(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kube_logs  kube ", "kubectl logs --timestamps --since=86400s of each container of the pods in all namespaces (at most 200, 4 at a time)",
		"custom/shop", "k3s kubectl logs --timestamps --since=86400s of each container of the pods in namespace shop",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, b.String())
		}
	}

	_, err = LoadSpec(writeSpec(t, "- name: a\n  kind: kube_logs\n  namespace: Bad_NS\n  output: x\n"))
	if err == nil || !strings.Contains(err.Error(), `spec.yaml line 3: collector "a": namespace "Bad_NS" is not a Kubernetes name`) {
		t.Errorf("bad namespace: %v", err)
	}
}

func TestKubeLogsStopAtTheCollectorDeadline(t *testing.T) {
	useFakeKubectl(t)
	marker := uniqueSleep()
	wrapper := filepath.Join(t.TempDir(), "kubectl-wrapper")
	script := "#!/bin/sh\ncase \"$1\" in get) exec kubectl \"$@\" ;; esac\necho 2026-01-01T00:00:00Z started\nsleep " + marker + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	c := kubeLogsCollector("kube-logs", "kube", "")
	c.Command = []string{wrapper}
	c.Timeout = Duration(time.Second)
	withProfiles(t, c)
	res := mustRun(t, testOptions(t))

	r := result(t, res, "kube-logs")
	if r.Status != StatusTimedOut || !r.TimedOut {
		t.Errorf("status %s, want timed_out", r.Status)
	}
	if r.DurationMS > 5000 {
		t.Errorf("took %d ms past a 1 s deadline", r.DurationMS)
	}
	// The first containers' partial output is kept; the rest never started.
	if len(r.Outputs) == 0 || len(r.Outputs) > kubeLogsConcurrency {
		t.Errorf("outputs %q, want the %d started at most", r.Outputs, kubeLogsConcurrency)
	}
	assertGone(t, -1, marker) // no group to check: the marker finds every container's sleep
}
