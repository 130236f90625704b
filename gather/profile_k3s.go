package gather

import "time"

// k3sProfile covers what k3s's contrib/util/diagnostics.sh gathered, with
// time windows: k3s version and check-config, its configs and kubeconfig
// (redacted by the runner), the k3s units' journals, its log files and
// containerd.log, the CRI view, pod logs within --since, and kubectl basics
// and kube-system's container logs through `k3s kubectl`, which finds
// /etc/rancher/k3s/k3s.yaml by itself.
func k3sProfile() Profile {
	cs := []Collector{
		run("k3s", "k3s/version.txt", prioConfig, "k3s", "--version"),
		timeout(time.Minute, run("k3s", "k3s/check-config.txt", prioStatus, "k3s", "check-config")),

		// config.yaml exists only where the admin wrote one.
		optional(copyFiles("nodes", "nodes/{host}/k3s/config.yaml", prioConfig, "/etc/rancher/k3s/config.yaml")),
		optional(copyFiles("nodes", "nodes/{host}/k3s/config.yaml.d", prioConfig, "/etc/rancher/k3s/config.yaml.d/*.yaml")),
		optional(copyFiles("nodes", "nodes/{host}/k3s/registries.yaml", prioConfig, "/etc/rancher/k3s/registries.yaml")),
		// Agents have no kubeconfig; servers do. Its keys are redacted.
		optional(copyFiles("nodes", "nodes/{host}/k3s/k3s.yaml", prioConfig, "/etc/rancher/k3s/k3s.yaml")),

		journal("k3s.service"),
		optional(journal("k3s-agent.service")),
		optional(since(copyFiles("k3s", "k3s/logs", prioLogs, "/var/log/k3s*.log"))),
		optional(copyFiles("k3s", "k3s/containerd.log", prioLogs, "/var/lib/rancher/k3s/agent/containerd/containerd.log")),
		optional(since(copyFiles("k3s", "k3s/pods", prioBulkLogs, "/var/log/pods"))),

		optional(run("k3s", "k3s/crictl_ps.txt", prioStatus, "crictl", "ps", "-a")),
		optional(run("k3s", "k3s/crictl_pods.txt", prioStatus, "crictl", "pods")),

		run("kube", "kube/k3s_kubectl_version.txt", prioConfig, "k3s", "kubectl", "version"),
		run("kube", "kube/k3s_kubectl_get_nodes_wide.txt", prioStatus, "k3s", "kubectl", "get", "nodes", "-o", "wide"),
		run("kube", "kube/k3s_kubectl_get_pods_wide.txt", prioStatus, "k3s", "kubectl", "get", "pods", "-A", "-o", "wide"),
		run("kube", "kube/k3s_kubectl_get_events.txt", prioStatus, "k3s", "kubectl", "get", "events", "-A"),
		kubeLogs(prioLogs, "kube-system", "k3s", "kubectl"),
	}
	return Profile{
		Name:        "k3s",
		Description: "a k3s server or agent: version, check-config, configs, journals, logs, containers, kubectl basics",
		Collectors:  cs,
	}
}
