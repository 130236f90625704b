package findings

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// fullAt is the use (space or inodes) at which a filesystem is reported.
const fullAt = 90

// checkDiskFull reads df -h and df -i: a filesystem or its inodes at fullAt %
// or more. Read-only images (loop devices, squashfs, ISO) are always full and
// are skipped.
func checkDiskFull(t *tree) []Finding {
	var out []Finding
	for _, f := range t.glob("**/system/df.txt", "**/system/df_inodes.txt") {
		what := "space"
		if strings.HasSuffix(f.path, "df_inodes.txt") {
			what = "inodes"
		}
		col := -1
		t.lines(f.path, func(n int, line string) bool {
			fields := strings.Fields(line)
			if col < 0 {
				for i, h := range fields {
					if h == "Use%" || h == "IUse%" || h == "Capacity" {
						col = i
					}
				}
				return true
			}
			if len(fields) < col+2 || skipFS(fields[0], fields[len(fields)-1]) {
				return true
			}
			pct, err := strconv.Atoi(strings.TrimSuffix(fields[col], "%"))
			if err != nil || pct < fullAt {
				return true
			}
			mount := fields[len(fields)-1]
			sev := Warning
			if pct >= 97 {
				sev = Critical
			}
			out = append(out, Finding{
				Severity:    sev,
				Title:       fmt.Sprintf("Filesystem %s is %d%% full (%s)%s", mount, pct, what, onNode(f.path)),
				Explanation: fmt.Sprintf("%s on %s is at %d%% of its %s; writes fail when it reaches 100%%, and many services stop before that.", fields[0], mount, pct, what),
				Action:      actionFull(what),
				Evidence:    []Evidence{{File: f.path, Line: n, Text: quote(line)}},
			})
			return true
		})
	}
	return out
}

func actionFull(what string) string {
	if what == "inodes" {
		return "Find the directory with millions of small files (find MOUNT -xdev -type d -size +1M) and clean it up."
	}
	return "Free space (old logs, images: crictl rmi --prune, journalctl --vacuum-size) or grow the filesystem."
}

func skipFS(dev, mount string) bool {
	return strings.HasPrefix(dev, "/dev/loop") || strings.HasPrefix(dev, "/dev/sr") ||
		dev == "squashfs" || strings.HasPrefix(mount, "/snap/")
}

var loadRe = regexp.MustCompile(`load averages?:\s*([\d.]+),?\s+([\d.]+),?\s+([\d.]+)`)

// loadFactor is how many runnable tasks per core count as "far above".
const loadFactor = 2

// checkLoad compares the 5-minute load average in uptime.txt with the
// number of cores in proc/cpuinfo.
func checkLoad(t *tree) []Finding {
	var out []Finding
	for _, f := range t.glob("**/system/uptime.txt") {
		dir := strings.TrimSuffix(f.path, "uptime.txt")
		cores := 0
		t.lines(dir+"proc/cpuinfo", func(_ int, line string) bool {
			if strings.HasPrefix(line, "processor") {
				cores++
			}
			return true
		})
		if cores == 0 {
			continue
		}
		t.lines(f.path, func(n int, line string) bool {
			m := loadRe.FindStringSubmatch(line)
			if m == nil {
				return true
			}
			load5, _ := strconv.ParseFloat(m[2], 64)
			if load5 < float64(loadFactor*cores) {
				return false
			}
			out = append(out, Finding{
				Severity:    Warning,
				Title:       fmt.Sprintf("Load %.1f on %d cores%s", load5, cores, onNode(f.path)),
				Explanation: fmt.Sprintf("The 5-minute load average is %.1f× the core count: processes wait for CPU or for I/O (D state).", load5/float64(cores)),
				Action:      "Look at top.txt and ps.txt for what runs or waits (state D is blocked on I/O); reduce load or add CPUs.",
				Evidence: []Evidence{{File: f.path, Line: n, Text: quote(line)},
					{File: dir + "proc/cpuinfo"}},
			})
			return false
		})
	}
	return out
}

// memLowPercent is the share of MemAvailable below which memory is low.
const memLowPercent = 5

// checkMemAvailable reads proc/meminfo: MemAvailable under memLowPercent of
// MemTotal.
func checkMemAvailable(t *tree) []Finding {
	var out []Finding
	for _, f := range t.glob("**/system/proc/meminfo") {
		var total, avail int64
		availLine, availText := 0, ""
		t.lines(f.path, func(n int, line string) bool {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				return true
			}
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "MemTotal:":
				total = v
			case "MemAvailable:":
				avail, availLine, availText = v, n, line
			}
			return true
		})
		if total == 0 || availLine == 0 || avail*100 >= total*memLowPercent {
			continue
		}
		out = append(out, Finding{
			Severity:    Warning,
			Title:       fmt.Sprintf("Memory nearly exhausted: %d MiB of %d MiB available%s", avail/1024, total/1024, onNode(f.path)),
			Explanation: "With less than 5 % of memory available the kernel reclaims page cache hard and the OOM killer is next.",
			Action:      "Find the largest processes in ps.txt (RSS column) and set limits, or add memory.",
			Evidence:    []Evidence{{File: f.path, Line: availLine, Text: quote(availText)}},
		})
	}
	return out
}
