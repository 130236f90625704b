package gather

import "time"

// stallTimeout bounds commands that hang on a sick host (df and mount on a
// dead NFS server) well below the default collector timeout.
const stallTimeout = 20 * time.Second

// hostProfile is what support asks for first on any Linux host: OS, kernel,
// resources, processes, network, firewall and time sync (system/), and the
// census. Run collectors describe the machine dump runs on; under a
// --sysroot only the copies and journals come from the mounted root.
func hostProfile() Profile {
	const cat = "system"
	return Profile{
		Name:        "host",
		Description: "the operating system: OS and kernel, resources, processes, network, firewall, time sync, census",
		Collectors: []Collector{
			{Name: "census", Category: "census", Kind: KindCensus, Output: "census.json", Priority: prioCensus},

			copyFiles(cat, "system/os-release", prioConfig, "/etc/os-release"),
			optional(copyFiles(cat, "system/etc", prioConfig, "/etc/hosts", "/etc/resolv.conf", "/etc/hostname")),
			run(cat, "system/uname.txt", prioConfig, "uname", "-a"),
			run(cat, "system/hostname.txt", prioConfig, "hostname", "-f"),
			run(cat, "system/id.txt", prioConfig, "id"),
			run(cat, "system/uptime.txt", prioStatus, "uptime"),

			optional(copyFiles(cat, "system/proc/cpuinfo", prioStatus, "/proc/cpuinfo")),
			optional(copyFiles(cat, "system/proc/meminfo", prioStatus, "/proc/meminfo")),
			optional(copyFiles(cat, "system/proc/cmdline", prioConfig, "/proc/cmdline")),
			run(cat, "system/free.txt", prioStatus, "free", "-m"),
			timeout(stallTimeout, run(cat, "system/df.txt", prioStatus, "df", "-h")),
			timeout(stallTimeout, run(cat, "system/df_inodes.txt", prioStatus, "df", "-i")),
			timeout(stallTimeout, run(cat, "system/mount.txt", prioStatus, "mount")),
			optional(run(cat, "system/lsblk.txt", prioStatus, "lsblk", "-o", "NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT,RO")),

			// ps and top show command lines: the runner redacts them.
			run(cat, "system/ps.txt", prioState, "ps", "auxww"),
			run(cat, "system/top.txt", prioState, "top", "-b", "-n1"),
			run(cat, "system/sysctl.txt", prioState, "sysctl", "-a"),
			// ISO timestamps, so the kernel log lines up with the journals.
			run(cat, "system/dmesg.txt", prioKernel, "dmesg", "--time-format=iso"),

			run(cat, "system/ip_addr.txt", prioStatus, "ip", "addr"),
			run(cat, "system/ip_route.txt", prioStatus, "ip", "route"),
			run(cat, "system/ss.txt", prioStatus, "ss", "-tulpn"),
			optional(run(cat, "system/iptables-save.txt", prioState, "iptables-save")),
			optional(run(cat, "system/nft_ruleset.txt", prioState, "nft", "list", "ruleset")),

			optional(run(cat, "system/systemctl_failed.txt", prioStatus, "systemctl", "list-units", "--failed", "--no-pager")),
			optional(run(cat, "system/timedatectl.txt", prioStatus, "timedatectl", "status")),
			optional(run(cat, "system/chronyc_tracking.txt", prioStatus, "chronyc", "tracking")),
		},
	}
}
