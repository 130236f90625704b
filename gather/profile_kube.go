package gather

import (
	"slices"
	"time"
)

// kubeProfile reads the cluster of kubectl's context (or --context), as the
// plan's probe found it (env.Kube): health first, then every listable type
// (CRDs included) of the chosen namespaces, each namespace under
// kube/<namespace>/ (all at once under kube/ with -A), cluster-scoped types
// once, Secrets without values, and pods' events, descriptions and logs.
// An unreachable API server leaves only the health collector, which fails
// in seconds saying so; a sick one gets short deadlines throughout.
func kubeProfile(env Env) Profile {
	const cat = "kube"
	kubectl := env.KubeTarget.kubectl()
	k := env.Kube
	p := Profile{
		Name:        "kube",
		Description: "the Kubernetes cluster of kubectl's context: health, every listable type of the namespaces the user may read, Secrets without values, Helm releases, pod events, descriptions and logs",
	}
	withKubectl := func(c Collector) Collector {
		c.Command = slices.Concat(kubectl, c.Command[1:])
		return c
	}
	p.Collectors = []Collector{
		{Name: "kube-health", Category: cat, Kind: KindKubeHealth, Command: kubectl, Output: "kube/readyz.txt",
			Priority: prioConfig, Timeout: Duration(10 * time.Second)},
		withKubectl(run(cat, "kube/kubectl_config_get_contexts.txt", prioConfig, "kubectl", "config", "get-contexts")),
	}
	if k != nil && k.Unreachable != "" {
		return p // the health collector says why, in seconds
	}
	p.Collectors = append(p.Collectors, timeout(time.Minute,
		withKubectl(run(cat, "kube/kubectl_version.yaml", prioConfig, "kubectl", "version", "-o", "yaml", "--request-timeout=30s"))))
	if k == nil {
		return p
	}
	// Each call has its own deadline; the collector's bounds the lot.
	timeout := Duration(10 * time.Minute)
	if !k.Ready {
		timeout = Duration(4 * kubeSickTimeout)
	}
	namespaced := slices.DeleteFunc(slices.Clone(k.Namespaced), func(r string) bool { return r == "secrets" })
	get := func(name, namespace, output string, resources []string) Collector {
		return Collector{Name: name, Category: cat, Kind: KindKubeGet, Command: kubectl, Namespace: namespace,
			Resources: resources, Output: output, Priority: prioStatus, Timeout: timeout}
	}
	secrets := func(name, namespace, output string) Collector {
		return Collector{Name: name, Category: cat, Kind: KindKubeSecrets, Command: kubectl, Namespace: namespace,
			Output: output, Priority: prioStatus, Timeout: timeout}
	}
	logs := func(name, namespace, output string) Collector {
		c := kubeLogs(prioBulkLogs, namespace, kubectl...)
		c.Name, c.Output, c.Timeout = name, output, timeout
		return c
	}
	hasSecrets := slices.Contains(k.Namespaced, "secrets")
	if k.AllNamespaces {
		p.Collectors = append(p.Collectors, get("kube-get", "", "kube", slices.Concat(k.ClusterScoped, namespaced)))
		if hasSecrets {
			p.Collectors = append(p.Collectors, secrets("kube-secrets", "", "kube"))
		}
		p.Collectors = append(p.Collectors, logs("kube-logs", "", "kube"))
		return p
	}
	if len(k.ClusterScoped) > 0 {
		p.Collectors = append(p.Collectors, get("kube-get-cluster", "", "kube", k.ClusterScoped))
	}
	for _, ns := range k.Namespaces {
		dir := "kube/" + ns
		p.Collectors = append(p.Collectors, get("kube-get-"+ns, ns, dir, namespaced))
		if hasSecrets {
			p.Collectors = append(p.Collectors, secrets("kube-secrets-"+ns, ns, dir))
		}
		p.Collectors = append(p.Collectors, logs("kube-logs-"+ns, ns, dir))
	}
	return p
}
