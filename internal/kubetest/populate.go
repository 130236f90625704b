package kubetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// What Populate puts in the cluster, for tests to look for.
const (
	Namespace      = "teleport" // the install; the viewer may read it and nothing else
	Node           = "stand-in-node"
	RunningPod     = "teleport-auth-6d4f8b7c9d-x7k2p" // Ready; its teleport container restarted once
	PendingPod     = "teleport-proxy-7b9c5d8f6-q4w9z" // never scheduled: Unschedulable
	PullBackOffPod = "teleport-agent-0"               // scheduled, its image never pulled
	CustomObject   = "support-engineer"               // a TeleportRole (CRD teleportroles.resources.teleport.dev)

	// Secret values: none may appear in a dump, in any encoding.
	SecretPlain  = "plain-stringdata-S3cr3t-value-4242" // Secret teleport-join, stringData token
	SecretBase64 = "b64-data-S3cr3t-value-9191"         // Secret teleport-join, data ca-pin (base64 in the manifest)
	ShortSecret  = "teleport"                           // Secret teleport-join, username: short and a common word
	// ConfigMapToken is the join token in the ConfigMap's teleport.yaml
	// (auth_service.tokens: ["proxy,node:<token>"]).
	ConfigMapToken = "cm-join-token-5e1f0c2b9a7d41f3"

	// The Helm release stored in Secret sh.helm.release.v1.teleport.v1.
	HelmChart         = "teleport-cluster"
	HelmChartVersion  = "17.0.2"
	HelmClusterName   = "teleport.example.com" // a user-supplied value, kept
	HelmValuePassword = "helm-values-Passw0rd-7731"

	// The logs the stand-in kubelet serves for RunningPod.
	CurrentLogLine  = "INFO [AUTH] Auth service is starting on 0.0.0.0:3025."
	PreviousLogLine = "ERROR [AUTH] backend: connection refused; exiting"
	InitLogLine     = "waiting for the backend: ready"
	OldLogLine      = "INFO this line is two days old" // outside a --since of 24h
)

//go:embed teleport.yaml
var teleportYAML string

//go:embed teleport-late.yaml
var teleportLateYAML string

// Populate fills the cluster like a Teleport install made with Helm: see
// teleport.yaml. It is idempotent, so a reused cluster can be populated again.
func (c *Cluster) Populate(ctx context.Context) error {
	release, err := helmRelease()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	data := map[string]string{
		"Node": Node, "RunningPod": RunningPod, "PendingPod": PendingPod, "PullBackOffPod": PullBackOffPod,
		"ConfigMapToken": ConfigMapToken, "SecretPlain": SecretPlain, "ShortSecret": ShortSecret,
		"SecretBase64Encoded": base64.StdEncoding.EncodeToString([]byte(SecretBase64)),
		"HelmRelease":         base64.StdEncoding.EncodeToString([]byte(release)),
		"EventTime1":          now.Add(-50 * time.Minute).Format(time.RFC3339),
		"EventTime2":          now.Add(-10 * time.Minute).Format(time.RFC3339),
		"EventTime3":          now.Add(-30 * time.Minute).Format(time.RFC3339),
	}
	if err := c.apply(ctx, teleportYAML, data); err != nil {
		return err
	}
	if err := c.registerNode(ctx, Node, c.Kubelet.Port); err != nil {
		return err
	}
	if err := c.own(ctx, "replicaset", "teleport-auth-6d4f8b7c9d", "apps/v1", "Deployment", "teleport-auth"); err != nil {
		return err
	}
	if err := c.own(ctx, "pod", RunningPod, "apps/v1", "ReplicaSet", "teleport-auth-6d4f8b7c9d"); err != nil {
		return err
	}
	started := now.Add(-2 * time.Hour).Format(time.RFC3339)
	restarted := now.Add(-1 * time.Hour).Format(time.RFC3339)
	image := "public.ecr.aws/gravitational/teleport-distroless:17.0.2"
	statuses := map[string]any{
		RunningPod: map[string]any{
			"phase": "Running", "startTime": started, "hostIP": "127.0.0.1", "podIP": "10.244.0.7",
			"conditions": conditions("True", "", ""),
			"initContainerStatuses": []any{map[string]any{
				"name": "wait-for-backend", "ready": true, "restartCount": 0, "image": image, "imageID": "",
				"containerID": "containerd://1f0e", "state": terminated(0, "Completed", started, started),
			}},
			"containerStatuses": []any{map[string]any{
				"name": "teleport", "ready": true, "started": true, "restartCount": 1, "image": image, "imageID": "",
				"containerID": "containerd://2a9c", "state": map[string]any{"running": map[string]any{"startedAt": restarted}},
				"lastState": terminated(1, "Error", started, restarted),
			}},
		},
		PendingPod: map[string]any{
			"phase": "Pending",
			"conditions": []any{map[string]any{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
				"message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."}},
		},
		PullBackOffPod: map[string]any{
			"phase": "Pending", "startTime": started, "hostIP": "127.0.0.1",
			"conditions": conditions("False", "ContainersNotReady", "containers with unready status: [agent]"),
			"containerStatuses": []any{map[string]any{
				"name": "agent", "ready": false, "restartCount": 0, "image": "registry.example.com/teleport-kube-agent:99.0.0", "imageID": "",
				"state": map[string]any{"waiting": map[string]any{"reason": "ImagePullBackOff",
					"message": `Back-off pulling image "registry.example.com/teleport-kube-agent:99.0.0"`}},
			}},
		},
	}
	for pod, st := range statuses {
		if err := c.patchStatus(ctx, Namespace, "pods", pod, st); err != nil {
			return err
		}
	}
	c.Kubelet.SetLogs(Namespace, RunningPod, "wait-for-backend", false, LogLine{Age: 2 * time.Hour, Text: InitLogLine})
	c.Kubelet.SetLogs(Namespace, RunningPod, "teleport", false,
		LogLine{Age: 48 * time.Hour, Text: OldLogLine}, LogLine{Age: 50 * time.Minute, Text: CurrentLogLine})
	c.Kubelet.SetLogs(Namespace, RunningPod, "teleport", true, LogLine{Age: 70 * time.Minute, Text: PreviousLogLine})

	if _, err := c.Kubectl(ctx, "", "wait", "--for=condition=Established", "--timeout=60s", "crd/teleportroles.resources.teleport.dev"); err != nil {
		return err
	}
	if err := c.apply(ctx, teleportLateYAML, data); err != nil {
		return err
	}
	// No controller-manager computes a quota's status, and the quota
	// admission refuses pods while it is unknown.
	return c.patchStatus(ctx, Namespace, "resourcequotas", "teleport", map[string]any{
		"hard": map[string]any{"pods": "20"}, "used": map[string]any{"pods": "3"},
	})
}

// What AddWedgedPod adds.
const (
	WedgedNamespace = "edge"
	WedgedNode      = "wedged-node"
	WedgedPod       = "edge-agent-0"
)

// AddWedgedPod adds a running pod on a node whose kubelet accepts
// connections and never answers: its logs cannot be read.
func (c *Cluster) AddWedgedPod(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: %[1]s}
---
apiVersion: v1
kind: Node
metadata: {name: %[2]s}
---
apiVersion: v1
kind: Pod
metadata: {name: %[3]s, namespace: %[1]s}
spec:
  nodeName: %[2]s
  containers:
  - {name: agent, image: "public.ecr.aws/gravitational/teleport-distroless:17.0.2"}
`, WedgedNamespace, WedgedNode, WedgedPod)
	started := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	err := c.apply(ctx, manifest, nil)
	if err == nil {
		err = c.registerNode(ctx, WedgedNode, c.hung.Port)
	}
	if err == nil {
		err = c.patchStatus(ctx, WedgedNamespace, "pods", WedgedPod, map[string]any{
			"phase": "Running", "startTime": started, "conditions": conditions("True", "", ""),
			"containerStatuses": []any{map[string]any{
				"name": "agent", "ready": true, "started": true, "restartCount": 0, "imageID": "",
				"image": "public.ecr.aws/gravitational/teleport-distroless:17.0.2", "containerID": "containerd://3b7d",
				"state": map[string]any{"running": map[string]any{"startedAt": started}},
			}},
		})
	}
	if err != nil {
		t.Fatalf("kubetest: add a pod on a wedged node: %v", err)
	}
}

func (c *Cluster) apply(ctx context.Context, tmpl string, data any) error {
	t, err := template.New("manifest").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	_, err = c.Kubectl(ctx, b.String(), "apply", "-f", "-")
	return err
}

// registerNode points a Node at a kubelet on 127.0.0.1:port and makes it Ready.
func (c *Cluster) registerNode(ctx context.Context, name string, port int) error {
	return c.patchStatus(ctx, "", "nodes", name, map[string]any{
		"addresses":       []any{map[string]any{"type": "InternalIP", "address": "127.0.0.1"}, map[string]any{"type": "Hostname", "address": name}},
		"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]any{"Port": port}},
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "stand-in kubelet",
			"lastHeartbeatTime": time.Now().UTC().Format(time.RFC3339), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
		"nodeInfo": map[string]any{"kubeletVersion": "v1.32.13", "kubeProxyVersion": "v1.32.13", "containerRuntimeVersion": "containerd://1.7.24",
			"operatingSystem": "linux", "architecture": "amd64", "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0",
			"machineID": "", "systemUUID": "", "bootID": ""},
	})
}

// patchStatus merges status into the status subresource of a core/v1
// object ("pods", "nodes", "resourcequotas"). It talks HTTP as the admin:
// kubectl patch --subresource needs kubectl 1.24, and Debian ships 1.20.
func (c *Cluster) patchStatus(ctx context.Context, namespace, resource, name string, status any) error {
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	p := "/api/v1/" + resource + "/" + name + "/status"
	if namespace != "" {
		p = "/api/v1/namespaces/" + namespace + "/" + resource + "/" + name + "/status"
	}
	client, token, err := c.adminClient()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.Server+p, bytes.NewReader(patch))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("patch %s: %w", p, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("patch %s: %s: %s", p, resp.Status, body)
	}
	return nil
}

// adminClient is an HTTP client trusting the cluster's CA, and the admin's
// token, both read from the admin kubeconfig.
func (c *Cluster) adminClient() (*http.Client, string, error) {
	b, err := os.ReadFile(c.AdminKubeconfig)
	if err != nil {
		return nil, "", err
	}
	var cfg struct {
		Clusters []struct {
			Cluster struct {
				CA string `yaml:"certificate-authority-data"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Users []struct {
			User struct {
				Token string `yaml:"token"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || len(cfg.Clusters) == 0 || len(cfg.Users) == 0 {
		return nil, "", fmt.Errorf("read %s: %v", c.AdminKubeconfig, err)
	}
	ca, err := base64.StdEncoding.DecodeString(cfg.Clusters[0].Cluster.CA)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", c.AdminKubeconfig, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return client, cfg.Users[0].User.Token, nil
}

// own makes an object in Namespace owned by another, as controllers do.
func (c *Cluster) own(ctx context.Context, kind, name, ownerAPIVersion, ownerKind, owner string) error {
	uid, err := c.Kubectl(ctx, "", "get", ownerKind, owner, "-n", Namespace, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []any{map[string]any{
		"apiVersion": ownerAPIVersion, "kind": ownerKind, "name": owner, "uid": uid, "controller": true, "blockOwnerDeletion": true,
	}}}})
	if err != nil {
		return err
	}
	_, err = c.Kubectl(ctx, "", "patch", kind, name, "-n", Namespace, "--type=merge", "-p", string(patch))
	return err
}

func conditions(ready, reason, message string) []any {
	now := time.Now().UTC().Format(time.RFC3339)
	cs := []any{map[string]any{"type": "PodScheduled", "status": "True", "lastTransitionTime": now}}
	for _, t := range []string{"Initialized", "ContainersReady", "Ready"} {
		st := ready
		if t == "Initialized" {
			st = "True"
		}
		c := map[string]any{"type": t, "status": st, "lastTransitionTime": now}
		if st == "False" {
			c["reason"], c["message"] = reason, message
		}
		cs = append(cs, c)
	}
	return cs
}

func terminated(code int, reason, started, finished string) map[string]any {
	return map[string]any{"terminated": map[string]any{"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}}
}

// helmRelease encodes a release the way Helm 3 stores it in a Secret's
// "release" key: JSON, gzip, base64 (and the API base64-encodes the Secret's
// data once more).
func helmRelease() (string, error) {
	rel := map[string]any{
		"name": "teleport", "namespace": Namespace, "version": 1,
		"info": map[string]any{"status": "deployed", "description": "Install complete",
			"first_deployed": "2026-11-01T10:00:00Z", "last_deployed": "2026-11-01T10:00:00Z"},
		"chart": map[string]any{
			"metadata": map[string]any{"name": HelmChart, "version": HelmChartVersion, "appVersion": HelmChartVersion, "apiVersion": "v2"},
			"values":   map[string]any{"clusterName": "", "chartMode": "standalone", "enterprise": false},
			"templates": []any{map[string]any{"name": "templates/auth/deployment.yaml",
				"data": base64.StdEncoding.EncodeToString([]byte("apiVersion: apps/v1\nkind: Deployment\n"))}},
		},
		"config": map[string]any{
			"clusterName": HelmClusterName, "chartMode": "standalone", "acme": true, "acmeEmail": "ops@example.com",
			"auth": map[string]any{"password": HelmValuePassword},
		},
		"manifest": "---\n# Source: teleport-cluster/templates/auth/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n",
	}
	j, err := json.Marshal(rel)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(j)
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b.Bytes()), nil
}
