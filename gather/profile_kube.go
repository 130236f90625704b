package gather

import "time"

// kubeResources are fetched one `kubectl get <r> -A -o yaml` each. Secrets
// and configmaps are left out: they hold credentials more often than not.
var kubeResources = []string{
	"nodes", "namespaces", "pods", "services", "endpoints", "ingresses",
	"daemonsets", "deployments", "replicasets", "statefulsets", "jobs", "cronjobs",
	"storageclasses", "persistentvolumes", "persistentvolumeclaims",
	"events",
}

// kubeSystemLogs are the kube-system components whose logs are fetched, by
// label selector: per-pod fan-out needs a list of pods that only exists at
// run time. --prefix names the pod and container on every line.
var kubeSystemLogs = []struct{ name, selector string }{
	{"coredns", "k8s-app=kube-dns"},
	{"metrics-server", "k8s-app=metrics-server"},
	{"kube-proxy", "k8s-app=kube-proxy"},
	{"control-plane", "tier=control-plane"}, // kubeadm's static pods: apiserver, etcd, scheduler, controller-manager
	{"traefik", "app.kubernetes.io/name=traefik"},
	{"local-path-provisioner", "app=local-path-provisioner"},
	{"cilium", "k8s-app=cilium"},
	{"calico-node", "k8s-app=calico-node"},
}

// kubeProfile reads the cluster that kubectl's current context points at:
// versions, contexts, resources as YAML, node descriptions and the logs of
// kube-system components within --since, with timestamps.
func kubeProfile(env Env) Profile {
	window := env.Since
	if window <= 0 {
		window = DefaultSince
	}
	const cat = "kube"
	cs := []Collector{
		run(cat, "kube/kubectl_version.yaml", prioConfig, "kubectl", "version", "-o", "yaml"),
		run(cat, "kube/kubectl_config_get_contexts.txt", prioConfig, "kubectl", "config", "get-contexts"),
		run(cat, "kube/kubectl_cluster_info.txt", prioStatus, "kubectl", "cluster-info"),
		timeout(2*time.Minute, run(cat, "kube/kubectl_describe_nodes.txt", prioStatus, "kubectl", "describe", "nodes")),
	}
	for _, r := range kubeResources {
		cs = append(cs, run(cat, "kube/kubectl_get_"+r+".yaml", prioStatus, "kubectl", "get", r, "-A", "-o", "yaml"))
	}
	for _, l := range kubeSystemLogs {
		cs = append(cs, run(cat, "kube/kubectl_logs_kube-system_"+l.name+".log", prioLogs,
			"kubectl", "logs", "-n", "kube-system", "-l", l.selector,
			"--all-containers", "--prefix", "--timestamps", "--since="+sinceArg(window),
			// With a selector kubectl keeps only 10 lines per container unless told.
			"--tail=-1", "--max-log-requests=20", "--ignore-errors"))
	}
	return Profile{
		Name:        "kube",
		Description: "the Kubernetes cluster of kubectl's current context: versions, resources, node descriptions, kube-system logs",
		Collectors:  cs,
	}
}
