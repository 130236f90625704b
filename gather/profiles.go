package gather

import (
	"path/filepath"
	"strings"
	"time"
)

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
