package findings

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// patternRule is a rule that is only data: lines of some files matching a
// regular expression. One finding per file with matches, the first few
// matching lines as evidence.
type patternRule struct {
	id          string
	severity    Severity
	title       string // "%s" is replaced by the first submatch, if any
	explanation string
	action      string
	files       []string // globs, see tree.glob
	match       *regexp.Regexp
	// recent, when set, counts only lines stamped within this long before
	// the dump (lines without a timestamp count).
	recent time.Duration
}

// Files where the kernel's and the services' messages land.
var (
	kernelLogs = []string{"**/system/dmesg.txt", "**/system/dmesg*.txt", "systemd/**/log.txt", "**/systemd/**/log.txt"}
	journals   = []string{"systemd/**/log.txt", "**/systemd/**/log.txt"}
)

func teleportLogs() []string {
	return []string{"systemd/**/teleport*/log.txt", "**/systemd/**/teleport*/log.txt", "**/nodes/*/teleport.log", "nodes/*/teleport.log"}
}

var patternTable = []patternRule{
	{
		id: "host.oom_kill", severity: Critical,
		title:       "The kernel killed processes for lack of memory (OOM)",
		explanation: "The out-of-memory killer ran: a process was killed, which restarts services and loses work.",
		action:      "Find the killed process and its memory limit in the evidence; raise the limit or the host's memory, or find the leak.",
		files:       kernelLogs,
		match:       regexp.MustCompile(`(?i)out of memory: kill|invoked oom-killer|oom-kill:|memory cgroup out of memory|killed process \d+`),
	},
	{
		id: "host.memory_pressure", severity: Warning,
		title:       "The kernel could not allocate memory",
		explanation: "Allocation failures and memory-pressure stalls slow the host down before the OOM killer runs.",
		action:      "Check free.txt and proc/meminfo; reduce load or add memory.",
		files:       kernelLogs,
		match:       regexp.MustCompile(`(?i)page allocation failure|under memory pressure|low on memory`),
	},
	{
		id: "host.readonly_remount", severity: Critical,
		title:       "A filesystem was remounted read-only",
		explanation: "The kernel remounts a filesystem read-only after an I/O or consistency error: writes to it fail.",
		action:      "Check the disk (dmesg, smartctl), fsck the filesystem during a maintenance window, then remount it read-write.",
		files:       append([]string{"**/system/mount.txt"}, kernelLogs...),
		match:       regexp.MustCompile(`(?i)remounting filesystem read-only|^\S+ on (?:/|/var\S*|/home\S*|/opt\S*) type (?:ext[234]|xfs|btrfs) \(ro[,)]`),
	},
	{
		id: "host.kernel_errors", severity: Warning,
		title:       "The kernel logged errors recently",
		explanation: "I/O errors, hung tasks, lockups or machine checks in the last day point at failing hardware or an overloaded host.",
		action:      "Read the lines around the evidence in dmesg; check the disk and the hypervisor.",
		files:       []string{"**/system/dmesg.txt"},
		match:       regexp.MustCompile(`(?i)I/O error|blk_update_request|buffer i/o error|EXT4-fs error|XFS \(.*\): (?:corruption|metadata I/O error)|blocked for more than \d+ seconds|soft lockup|hard lockup|Hardware Error|Machine check|BUG: |Call Trace`),
		recent:      24 * time.Hour,
	},
	{
		id: "host.clock_unsynchronised", severity: Warning,
		title:       "The system clock is not synchronised",
		explanation: "A drifting clock breaks certificate validity checks, tokens and log correlation between hosts.",
		action:      "Enable and start time sync (systemctl enable --now systemd-timesyncd or chronyd) and check that NTP servers are reachable.",
		files:       []string{"**/system/timedatectl.txt", "**/system/chronyc_tracking.txt"},
		match:       regexp.MustCompile(`(?i)System clock synchronized:\s*no|NTP synchronized:\s*no|Leap status\s*:\s*Not synchronised`),
	},
	{
		id: "teleport.auth_unreachable", severity: Critical,
		title:       "Teleport cannot reach its auth server",
		explanation: "An agent that cannot reach auth cannot renew certificates or serve sessions; after the grace period it drops out of the cluster.",
		action:      "Check auth_server/proxy_server in teleport.yaml, DNS and the firewall from this host to the auth server or proxy (port 3025 or 443).",
		files:       teleportLogs(),
		match:       regexp.MustCompile(`(?i)failed to connect to the auth server|auth server.{0,40}(?:unreachable|connection refused|no such host)|failed to dial auth server|all auth servers unreachable`),
	},
	{
		id: "teleport.join_failed", severity: Critical,
		title:       "Teleport failed to join the cluster",
		explanation: "The agent's join was refused: it has no host certificate and serves nothing.",
		action:      "Create a fresh join token (tctl tokens add --type=node), put it in teleport.yaml's join_params, and check the CA pin after a CA rotation.",
		files:       teleportLogs(),
		match:       regexp.MustCompile(`(?i)failed to (?:register|join)|join token.{0,40}(?:expired|not found|invalid)|token (?:expired|not found)|ca pin mismatch|failed to register through (?:auth|proxy)`),
	},
	{
		id: "kube.readyz", severity: Critical,
		title:       "The Kubernetes API server is not ready: %s failed",
		explanation: "readyz?verbose and livez?verbose list the checks the API server runs; a failing etcd check means writes and watches fail cluster-wide.",
		action:      "Read the failing check's line; for etcd check the etcd (k3s: the embedded datastore) health, disk latency and free space.",
		files:       []string{"kube/**readyz*", "kube/**livez*", "k3s/**readyz*", "k3s/**livez*", "**/kube/readyz*", "**/kube/livez*", "**/k3s/readyz*"},
		match:       regexp.MustCompile(`\[-\]([\w./-]+) failed`),
	},
}

// maxEvidence bounds the evidence lines kept per finding.
const maxEvidence = 5

func patternRules() []Rule {
	rs := make([]Rule, 0, len(patternTable))
	for _, p := range patternTable {
		rs = append(rs, Rule{ID: p.id, check: p.check})
	}
	return rs
}

func (p patternRule) check(t *tree) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, f := range t.glob(p.files...) {
		if seen[f.path] {
			continue
		}
		seen[f.path] = true
		var ev []Evidence
		var first time.Time
		var sub []string
		n := 0
		t.lines(f.path, func(i int, line string) bool {
			m := p.match.FindStringSubmatch(line)
			if m == nil {
				return true
			}
			at, stamped := lineTime(line)
			if p.recent > 0 && stamped && t.opts.Now.Sub(at) > p.recent {
				return true
			}
			n++
			if stamped && first.IsZero() {
				first = at
			}
			if len(m) > 1 && !contains(sub, m[1]) {
				sub = append(sub, m[1])
			}
			if len(ev) < maxEvidence {
				ev = append(ev, Evidence{File: f.path, Line: i, Text: quote(line)})
			}
			return true
		})
		if n == 0 {
			continue
		}
		title := p.title
		if strings.Contains(title, "%s") {
			title = fmt.Sprintf(title, strings.Join(sub, ", "))
		}
		out = append(out, Finding{
			Severity:    p.severity,
			Title:       title + onNode(f.path),
			Explanation: fmt.Sprintf("%s (%d matching lines in %s)", p.explanation, n, f.path),
			Action:      p.action,
			Evidence:    ev,
			Time:        ptime(first),
		})
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
