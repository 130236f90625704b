package gather

import (
	"os"
	"strconv"
	"strings"

	"github.com/dumptool/dump/gather/redact"
)

// addIdentities tells the redactor the host's names, its human users and its
// DNS domains, so that --obfuscate can replace them everywhere.
func addIdentities(r *redact.Redactor, sysroot string) {
	var hosts, users, domains []string
	name := ""
	if sysroot == "/" {
		name, _ = os.Hostname()
	} else {
		name = firstLine(sysroot, "/etc/hostname")
	}
	if name != "" && name != "localhost" {
		hosts = append(hosts, name)
		if short, domain, ok := strings.Cut(name, "."); ok {
			hosts = append(hosts, short)
			domains = append(domains, domain)
		}
	}
	forEachLine(sysroot, "/etc/resolv.conf", func(l string) {
		f := strings.Fields(l)
		if len(f) > 1 && (f[0] == "search" || f[0] == "domain") {
			for _, d := range f[1:] {
				if d != "." && d != "localdomain" {
					domains = append(domains, d)
				}
			}
		}
	})
	forEachLine(sysroot, "/etc/passwd", func(l string) {
		f := strings.Split(l, ":")
		if len(f) < 3 {
			return
		}
		uid, err := strconv.Atoi(f[2])
		if err == nil && uid >= 1000 && uid < 65534 && f[0] != "" {
			users = append(users, f[0])
		}
	})
	r.AddIdentities(hosts, users, domains)
}

// forEachLine calls fn with each line of a host file that is not empty or a
// comment.
func forEachLine(sysroot, hostPath string, fn func(string)) {
	b, err := readHostFile(sysroot, hostPath, maxHostRead)
	if err != nil {
		return
	}
	for l := range strings.Lines(string(b)) {
		if l := strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			fn(l)
		}
	}
}
