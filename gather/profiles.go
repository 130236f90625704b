package gather

import (
	"path/filepath"
	"strings"
	"time"
)

// Builtin returns the built-in profiles, in the order they are shown:
// host, k3s, teleport and kube. Outputs under nodes/ and systemd/ carry
// env.HostID when it is known (else the "{host}" placeholder the runner
// expands), and the teleport diag collectors use env.DiagAddr, or else
// teleport.diag_addr from teleport.yaml under env.Sysroot.
func Builtin(env Env) []Profile {
	if env.Sysroot == "" {
		env.Sysroot = "/"
	}
	if env.DiagAddr == "" {
		env.DiagAddr = DiagAddrFromConfig(env.Sysroot)
	}
	ps := []Profile{hostProfile(), k3sProfile(), teleportProfile(env), kubeProfile(env)}
	if env.HostID != "" {
		for i := range ps {
			for j := range ps[i].Collectors {
				c := &ps[i].Collectors[j]
				c.Output = strings.ReplaceAll(c.Output, "{host}", env.HostID)
			}
		}
	}
	return ps
}

// Priorities under the whole-dump budget: the lowest go first.
const (
	prioBulkLogs = 20  // pod logs, audit logs, old-style log files
	prioLogs     = 30  // journals, product logs
	prioKernel   = 40  // dmesg and the like
	prioState    = 70  // process lists, tables that are big but small enough
	prioStatus   = 80  // status commands, resources
	prioConfig   = 90  // product configuration, versions
	prioCensus   = 100 // census: always kept
)

// run makes a run collector. The name is derived from the output file, so
// names stay unique wherever outputs are.
func run(category, output string, prio int, argv ...string) Collector {
	return Collector{
		Name:     nameOf(output),
		Category: category,
		Kind:     KindRun,
		Command:  argv,
		Output:   output,
		Priority: prio,
	}
}

// copyFiles makes a copy collector of absolute paths (globs allowed), read
// under the sysroot by the runner.
func copyFiles(category, output string, prio int, paths ...string) Collector {
	return Collector{
		Name:     nameOf(output),
		Category: category,
		Kind:     KindCopy,
		Paths:    paths,
		Output:   output,
		Priority: prio,
	}
}

// journal makes a journal collector for unit into systemd/{host}/<unit>/.
func journal(unit string) Collector {
	return Collector{
		Name:     "journal-" + unit,
		Category: "systemd",
		Kind:     KindJournal,
		Unit:     unit,
		Output:   "systemd/{host}/" + unit,
		Priority: prioLogs,
	}
}

// kubeLogs makes the kube_logs collector of the kube and k3s profiles, with
// kubectl run as argv (default kubectl). Both profiles give it the same name
// and output, so with both detected the plan keeps the first and runs it once.
func kubeLogs(prio int, namespace string, kubectl ...string) Collector {
	return Collector{
		Name:      "kube-logs",
		Category:  "kube",
		Kind:      KindKubeLogs,
		Command:   kubectl,
		Namespace: namespace,
		Output:    "kube",
		Priority:  prio,
		Timeout:   Duration(5 * time.Minute), // many containers, 4 at a time
	}
}

func optional(c Collector) Collector { c.Optional = true; return c }

func since(c Collector) Collector { c.Since = true; return c }

func timeout(d time.Duration, c Collector) Collector { c.Timeout = Duration(d); return c }

// nameOf turns an output path into a collector name: "system/ip_addr.txt"
// becomes "system-ip_addr", "nodes/{host}/teleport.yaml" "nodes-teleport".
func nameOf(output string) string {
	output = strings.ReplaceAll(output, "{host}/", "")
	output = strings.TrimSuffix(output, filepath.Ext(output))
	return strings.NewReplacer("/", "-", ".", "-").Replace(output)
}
