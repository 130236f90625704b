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

// kubeProfile reads the cluster that kubectl's current context points at:
// versions, contexts, resources as YAML, node descriptions and the logs of
// every container within --since, with timestamps.
func kubeProfile() Profile {
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
	// All namespaces: the container cap of kube_logs keeps it bounded.
	cs = append(cs, kubeLogs(prioBulkLogs, ""))
	return Profile{
		Name:        "kube",
		Description: "the Kubernetes cluster of kubectl's current context: versions, resources, node descriptions, pod logs",
		Collectors:  cs,
	}
}
