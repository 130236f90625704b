package findings

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// kubeGet lists the objects of kubectl_get_<resource>.yaml wherever they
// are under kube/ (kube/<namespace>/ too, and in cluster dumps under nodes/).
func kubeGet(t *tree, resource string) []kubeObject {
	var out []kubeObject
	for _, f := range t.glob("kube/**/kubectl_get_"+resource+".yaml", "**/kube/**/kubectl_get_"+resource+".yaml") {
		for _, doc := range yamlDocs(t, f.path) {
			list := items(doc, "items")
			if list == nil && str(doc, "kind") != "List" && get(doc, "metadata") != nil {
				list = []*yaml.Node{doc} // a single object
			}
			for _, it := range list {
				out = append(out, kubeObject{file: f.path, n: it})
			}
		}
	}
	return out
}

type kubeObject struct {
	file string
	n    *yaml.Node
}

func (o kubeObject) name() string {
	if ns := str(o.n, "metadata", "namespace"); ns != "" {
		return ns + "/" + str(o.n, "metadata", "name")
	}
	return str(o.n, "metadata", "name")
}

func (o kubeObject) at(n *yaml.Node, text string) Evidence {
	return Evidence{File: o.file, Line: lineOf(n, o.n), Text: text}
}

// checkKubeNodes: nodes whose Ready condition is not True, and nodes under
// memory, disk or PID pressure.
func checkKubeNodes(t *tree) []Finding {
	var out []Finding
	for _, o := range kubeGet(t, "nodes") {
		for _, c := range items(o.n, "status", "conditions") {
			typ, status := str(c, "type"), str(c, "status")
			reason, msg := str(c, "reason"), str(c, "message")
			switch {
			case typ == "Ready" && status != "True":
				out = append(out, Finding{
					Severity:    Critical,
					Title:       fmt.Sprintf("Node %s is NotReady (%s)", o.name(), reason),
					Explanation: fmt.Sprintf("The kubelet on %s stopped reporting ready: %s", o.name(), quote(msg)),
					Action:      "Check the kubelet (k3s: the k3s or k3s-agent journal) on that node, its disk and memory, and its network to the API server.",
					Evidence:    []Evidence{o.at(get(c, "status"), "Ready: "+status+" "+reason)},
				})
			case strings.HasSuffix(typ, "Pressure") && status == "True":
				out = append(out, Finding{
					Severity:    Warning,
					Title:       fmt.Sprintf("Node %s reports %s", o.name(), typ),
					Explanation: fmt.Sprintf("The kubelet evicts pods while under pressure: %s", quote(msg)),
					Action:      "Free the resource on that node (disk: images and logs; memory: limits on the largest pods).",
					Evidence:    []Evidence{o.at(get(c, "status"), typ+": True")},
				})
			}
		}
	}
	return out
}

// crashLoopRestarts is the restart count at which a container counts as
// crash-looping even when not in back-off at the moment of the dump.
const crashLoopRestarts = 5

// checkKubePods: crash-looping containers, image pull back-off, pods
// Pending with the scheduler's reason, and pods.
func checkKubePods(t *tree) []Finding {
	var out []Finding
	for _, o := range kubeGet(t, "pods") {
		if str(o.n, "status", "reason") == "Evicted" {
			continue // checkEvictions
		}
		if str(o.n, "status", "phase") == "Pending" {
			for _, c := range items(o.n, "status", "conditions") {
				if str(c, "type") == "PodScheduled" && str(c, "status") == "False" {
					msg := str(c, "message")
					out = append(out, Finding{
						Severity:    Warning,
						Title:       fmt.Sprintf("Pod %s is Pending: %s", o.name(), str(c, "reason")),
						Explanation: "The scheduler found no node for it: " + quote(msg),
						Action:      "Read the scheduler's reason: free or add the resource it names, or fix the pod's node selector, taints/tolerations or volume claim.",
						Evidence:    []Evidence{o.at(get(c, "message"), quote(msg))},
					})
				}
			}
		}
		statuses := append(items(o.n, "status", "initContainerStatuses"), items(o.n, "status", "containerStatuses")...)
		for _, cs := range statuses {
			name := str(cs, "name")
			waiting := str(cs, "state", "waiting", "reason")
			restarts, _ := strconv.Atoi(str(cs, "restartCount"))
			last := str(cs, "lastState", "terminated", "reason")
			switch {
			case waiting == "ImagePullBackOff" || waiting == "ErrImagePull" || waiting == "InvalidImageName" || waiting == "ErrImageNeverPull":
				msg := str(cs, "state", "waiting", "message")
				image := str(cs, "image")
				if image != "" {
					image = " " + image
				}
				out = append(out, Finding{
					Severity:    Critical,
					Title:       fmt.Sprintf("Pod %s cannot pull its image%s (%s)", o.name(), image, waiting),
					Explanation: fmt.Sprintf("Container %s never starts: %s", name, quote(msg)),
					Action:      "Check the image name and tag, the registry's reachability from the node, and imagePullSecrets (k3s: registries.yaml).",
					Evidence:    []Evidence{o.at(get(cs, "state", "waiting", "reason"), "reason: "+waiting)},
				})
			case waiting == "CrashLoopBackOff" || restarts >= crashLoopRestarts:
				why := last
				if code := str(cs, "lastState", "terminated", "exitCode"); code != "" {
					why += ", exit code " + code
				}
				if why == "" {
					why = "unknown"
				}
				ev := []Evidence{o.at(get(cs, "restartCount"), fmt.Sprintf("restartCount: %d", restarts))}
				if l := get(cs, "lastState", "terminated", "reason"); l != nil {
					ev = append(ev, o.at(l, "lastState: "+last))
				}
				out = append(out, Finding{
					Severity:    Critical,
					Title:       fmt.Sprintf("Pod %s is crash-looping (%s restarted %d times)", o.name(), name, restarts),
					Explanation: fmt.Sprintf("Container %s keeps exiting; last termination: %s.", name, why),
					Action:      "Read its previous log (kubectl_logs_*_previous.log in kube/); OOMKilled means raise its memory limit.",
					Evidence:    ev,
				})
			}
		}
	}
	return out
}

// checkEvictions: pods the kubelet evicted, from the pods' status and from
// Evicted events (for evicted pods already gone), each pod once.
func checkEvictions(t *tree) []Finding {
	var ev []Evidence
	seen := map[string]bool{}
	for _, o := range kubeGet(t, "pods") {
		if r := get(o.n, "status", "reason"); r != nil && r.Value == "Evicted" && !seen[o.name()] {
			seen[o.name()] = true
			ev = append(ev, o.at(r, o.name()+": "+quote(str(o.n, "status", "message"))))
		}
	}
	for _, o := range kubeGet(t, "events") {
		obj := str(o.n, "involvedObject", "namespace") + "/" + str(o.n, "involvedObject", "name")
		if str(o.n, "reason") == "Evicted" && !seen[obj] {
			seen[obj] = true
			ev = append(ev, o.at(get(o.n, "reason"), obj+": "+quote(str(o.n, "message"))))
		}
	}
	if len(ev) == 0 {
		return nil
	}
	n := len(ev)
	if n > maxEvidence {
		ev = ev[:maxEvidence]
	}
	return []Finding{{
		Severity:    Warning,
		Title:       fmt.Sprintf("%d pods were evicted", n),
		Explanation: "The kubelet evicted pods to relieve node pressure (memory, disk or PIDs); they restart elsewhere or not at all.",
		Action:      "See which resource ran out in the eviction messages and free it on the node, or set requests and limits on the pods.",
		Evidence:    ev,
	}}
}
