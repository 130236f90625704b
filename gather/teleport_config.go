package gather

import (
	"errors"
	"io/fs"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Teleport's defaults (see its admin manual).
const (
	teleportConfigPath = "/etc/teleport.yaml"
	teleportDataDir    = "/var/lib/teleport"
)

// teleportConfig is the part of teleport.yaml the teleport profile reads.
// Nothing secret is kept from it.
type teleportConfig struct {
	Teleport struct {
		DataDir  string `yaml:"data_dir"`
		DiagAddr string `yaml:"diag_addr"`
		Log      struct {
			Output string `yaml:"output"`
		} `yaml:"log"`
	} `yaml:"teleport"`
	Auth      teleportService `yaml:"auth_service"`
	SSH       teleportService `yaml:"ssh_service"`
	Proxy     teleportService `yaml:"proxy_service"`
	Kube      teleportService `yaml:"kubernetes_service"`
	App       teleportService `yaml:"app_service"`
	DB        teleportService `yaml:"db_service"`
	Desktop   teleportService `yaml:"windows_desktop_service"`
	Discovery teleportService `yaml:"discovery_service"`
}

// teleportService holds a service's "enabled" as written: Teleport accepts
// yes/no/true/false/1/0/on/off, and an unset flag means the default.
type teleportService struct {
	Enabled string `yaml:"enabled"`
}

func (s teleportService) on(byDefault bool) bool {
	switch strings.ToLower(strings.TrimSpace(s.Enabled)) {
	case "":
		return byDefault
	case "yes", "y", "true", "1", "on", "yes_please":
		return true
	default:
		return false
	}
}

// readTeleportConfig reads teleport.yaml under sysroot. It returns nil when
// there is none or it cannot be parsed: the profile then uses defaults.
func readTeleportConfig(sysroot string) *teleportConfig {
	// A real teleport.yaml is a few KiB; the cap keeps a hostile root cheap.
	b, err := readHostFile(sysroot, teleportConfigPath, maxHostRead)
	if err != nil {
		return nil
	}
	var c teleportConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil
	}
	return &c
}

// DiagAddrFromConfig returns teleport.diag_addr from <sysroot>/etc/teleport.yaml,
// or "" when there is no config or no diag address in it. Under a --sysroot
// the config is untrusted input: only a loopback address is returned, so that
// a mounted image cannot make dump ask another machine (give --diag-addr).
func DiagAddrFromConfig(sysroot string) string {
	addr := configDiagAddr(sysroot)
	if !isLiveRoot(sysroot) && !isLoopbackAddr(addr) {
		return ""
	}
	return addr
}

func configDiagAddr(sysroot string) string {
	if c := readTeleportConfig(sysroot); c != nil {
		return strings.TrimSpace(c.Teleport.DiagAddr)
	}
	return ""
}

// isLoopbackAddr reports whether a diag_addr is asked on this machine's
// loopback (diagURL asks a wildcard address there too).
func isLoopbackAddr(addr string) bool {
	host := addr
	if u, err := url.Parse(addr); err == nil && strings.Contains(addr, "://") {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	switch host {
	case "", "0.0.0.0", "::", "localhost":
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// RoleMarkers returns the Teleport services enabled in <sysroot>/etc/teleport.yaml
// ("auth", "proxy", "ssh", "kube", "app", "db", "windows_desktop", "discovery"),
// one per nodes/<host-id>/role.<name> marker file. Unset services take
// Teleport's defaults (auth, proxy and ssh on, the rest off). Nil when there
// is no readable config.
func RoleMarkers(sysroot string) []string {
	c := readTeleportConfig(sysroot)
	if c == nil {
		return nil
	}
	var roles []string
	for _, s := range []struct {
		name      string
		svc       teleportService
		byDefault bool
	}{
		{"auth", c.Auth, true},
		{"proxy", c.Proxy, true},
		{"ssh", c.SSH, true},
		{"kube", c.Kube, false},
		{"app", c.App, false},
		{"db", c.DB, false},
		{"windows_desktop", c.Desktop, false},
		{"discovery", c.Discovery, false},
	} {
		if s.svc.on(s.byDefault) {
			roles = append(roles, s.name)
		}
	}
	return roles
}

// dataDir is teleport.data_dir as an absolute, clean path, or the default.
func (c *teleportConfig) dataDir() string {
	if c == nil || !path.IsAbs(c.Teleport.DataDir) {
		return teleportDataDir
	}
	return path.Clean(c.Teleport.DataDir)
}

// logFile is teleport.log.output when it names a file (not stderr, stdout or syslog).
func (c *teleportConfig) logFile() string {
	if c == nil {
		return ""
	}
	out := path.Clean(strings.TrimSpace(c.Teleport.Log.Output))
	if !path.IsAbs(out) || !isLogPath(out) {
		return ""
	}
	return out
}

// isLogPath reports whether p can be a log file: not under /proc, /sys or
// /dev, where a config could point dump at its own environment or a device.
func isLogPath(p string) bool {
	for _, d := range []string{"/proc", "/sys", "/dev"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return false
		}
	}
	return true
}

// diagURL builds the URL of a diag endpoint path from a diag_addr such as
// "127.0.0.1:3000", "0.0.0.0:3000" (asked on loopback) or "http://host:port".
func diagURL(addr, p string) string {
	if strings.Contains(addr, "://") {
		return strings.TrimSuffix(addr, "/") + p
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + p
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + p
}

// rootJoin is the path of absolute path p under sysroot.
func rootJoin(sysroot, p string) string {
	if sysroot == "" {
		sysroot = "/"
	}
	return filepath.Join(sysroot, filepath.FromSlash(path.Clean("/"+p)))
}

// existsUnder reports whether absolute path p exists under sysroot.
func existsUnder(sysroot, p string) bool {
	_, err := statHost(sysroot, p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
