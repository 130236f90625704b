package gather

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// CensusInfo is census.json: the host facts of Teleport's agent census
// (RFD 108), computed without cgo and, under a sysroot, from its files.
type CensusInfo struct {
	OS               string   `json:"os"`                // GOOS
	OSVersion        string   `json:"os_version"`        // os-release ID + VERSION_ID, e.g. "ubuntu 22.04"
	Arch             string   `json:"arch"`              // GOARCH
	Glibc            string   `json:"glibc"`             // e.g. "2.36"; "" on musl or when absent
	InstallMethods   []string `json:"install_methods"`   // e.g. "systemctl:teleport.service", "dpkg:teleport", "node_script"
	ContainerRuntime string   `json:"container_runtime"` // docker, podman, containerd, kubernetes, ... or ""
	Orchestrator     string   `json:"orchestrator"`      // "kubernetes-v1.29.3+k3s1", "kubernetes" or ""
	Cloud            string   `json:"cloud"`             // aws, gcp, azure or ""
	Hostname         string   `json:"hostname"`
	Kernel           string   `json:"kernel"` // kernel release
}

// censusProbeTimeout bounds each network question (the Kubernetes API
// version; all cloud metadata endpoints together).
const censusProbeTimeout = time.Second

// Census computes the host facts. Files are read under env.Sysroot; the
// questions only the running system can answer (ldd, the kernel, the
// Kubernetes API, cloud metadata) describe the machine dump runs on. Cloud
// metadata is not asked when env.NoCloudDetect is set.
func Census(ctx context.Context, env Env) CensusInfo {
	root := env.Sysroot
	if root == "" {
		root = "/"
	}
	live := isLiveRoot(root)
	c := CensusInfo{
		OS:               runtime.GOOS,
		OSVersion:        osVersion(root),
		Arch:             runtime.GOARCH,
		Glibc:            glibcVersion(ctx, root, live),
		InstallMethods:   installMethods(root),
		ContainerRuntime: containerRuntime(root, live),
		Orchestrator:     orchestrator(ctx),
		Hostname:         hostname(root),
		Kernel:           firstLine(root, "/proc/sys/kernel/osrelease"),
	}
	if !env.NoCloudDetect {
		c.Cloud = detectCloud(ctx)
	}
	return c
}

// osVersion is "<ID> <VERSION_ID>" from os-release, else from lsb-release.
func osVersion(root string) string {
	for _, f := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		kv := readEnvFile(root, f)
		if kv["ID"] != "" {
			return strings.TrimSpace(kv["ID"] + " " + kv["VERSION_ID"])
		}
	}
	kv := readEnvFile(root, "/etc/lsb-release")
	if kv["DISTRIB_ID"] != "" {
		return strings.TrimSpace(strings.ToLower(kv["DISTRIB_ID"]) + " " + kv["DISTRIB_RELEASE"])
	}
	return ""
}

// readEnvFile parses the KEY=value lines (values optionally quoted) of a host file.
func readEnvFile(root, hostPath string) map[string]string {
	kv := map[string]string{}
	b, err := readHostFile(root, hostPath, 64<<10)
	if err != nil {
		return kv
	}
	for l := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		kv[k] = strings.Trim(v, `"'`)
	}
	return kv
}

// glibcVersion asks ldd on the live host, else reads the C library under the
// root: its versioned file name (libc-2.31.so) or the banner glibc carries
// ("... release version 2.36."). "" on musl or when there is no glibc.
func glibcVersion(ctx context.Context, root string, live bool) string {
	if live {
		if out, err := probe(ctx, 2*time.Second, "ldd", "--version"); err == nil {
			if v := parseLddVersion(out); v != "" {
				return v
			}
		}
	}
	for _, pattern := range []string{"/lib/*-linux-gnu", "/lib64", "/usr/lib/*-linux-gnu", "/usr/lib64", "/lib", "/usr/lib"} {
		for _, d := range globHost(root, pattern) {
			if v := glibcFromDir(root, d); v != "" {
				return v
			}
		}
	}
	return ""
}

var (
	lddVersion    = regexp.MustCompile(`(?i)(?:glibc|gnu libc).*?\s(\d+\.\d+)\s*$`)
	libcFileName  = regexp.MustCompile(`^libc-(\d+\.\d+)\.so$`)
	glibcBanner   = regexp.MustCompile(`GNU C Library [^\n]*? version (\d+\.\d+)`)
	glibcMaxBytes = int64(16 << 20)
)

// parseLddVersion takes the first line of `ldd --version`:
// "ldd (Debian GLIBC 2.36-9+deb12u4) 2.36" or "ldd (GNU libc) 2.39".
func parseLddVersion(out []byte) string {
	line, _, _ := bytes.Cut(out, []byte("\n"))
	if m := lddVersion.FindSubmatch(bytes.TrimSpace(line)); m != nil {
		return string(m[1])
	}
	return ""
}

func glibcFromDir(root, dir string) string {
	if names := globHost(root, path.Join(dir, "libc-*.so")); len(names) > 0 {
		if m := libcFileName.FindStringSubmatch(path.Base(names[0])); m != nil {
			return m[1]
		}
	}
	b, err := readHostFile(root, path.Join(dir, "libc.so.6"), glibcMaxBytes)
	if err != nil {
		return ""
	}
	if m := glibcBanner.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// installMethods lists how things on this host were installed, cheaply:
// Teleport's TELEPORT_INSTALL_METHOD_* variables (as its census reports
// them), systemd units of teleport and k3s, the k3s install script's
// uninstaller, and dpkg's record of a teleport package.
func installMethods(root string) []string {
	var ms []string
	for _, e := range os.Environ() {
		k, v, _ := strings.Cut(e, "=")
		if name, ok := strings.CutPrefix(k, "TELEPORT_INSTALL_METHOD_"); ok && strings.EqualFold(v, "true") {
			ms = append(ms, strings.ToLower(name))
		}
	}
	for _, unit := range []string{"teleport.service", "k3s.service", "k3s-agent.service"} {
		for _, d := range []string{"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
			if existsUnder(root, d+"/"+unit) {
				ms = append(ms, "systemctl:"+unit)
				break
			}
		}
	}
	for _, s := range []string{"k3s-uninstall.sh", "k3s-agent-uninstall.sh"} {
		if existsUnder(root, "/usr/local/bin/"+s) {
			ms = append(ms, "k3s-install-script")
		}
	}
	for _, pkg := range []string{"teleport", "teleport-ent"} {
		if existsUnder(root, "/var/lib/dpkg/info/"+pkg+".list") {
			ms = append(ms, "dpkg:"+pkg)
		}
	}
	slices.Sort(ms)
	return slices.Compact(ms)
}

// containerRuntime recognizes the container the root runs in by the marks
// runtimes leave: /.dockerenv, /run/.containerenv (podman), and on the live
// host the container variable and PID 1's cgroup.
func containerRuntime(root string, live bool) string {
	if existsUnder(root, "/.dockerenv") {
		return "docker"
	}
	if existsUnder(root, "/run/.containerenv") {
		return "podman"
	}
	if !live {
		return ""
	}
	if v := os.Getenv("container"); v != "" {
		return v // systemd-nspawn, podman, lxc, ... set it for PID 1 and often for children
	}
	b, _ := readHostFile("/", "/proc/1/cgroup", 64<<10)
	return runtimeFromCgroup(string(b))
}

// runtimeFromCgroup reads a cgroup (v1) path for the runtime's slice names.
func runtimeFromCgroup(cg string) string {
	switch {
	case strings.Contains(cg, "containerd"):
		return "containerd"
	case strings.Contains(cg, "crio"):
		return "cri-o"
	case strings.Contains(cg, "docker"):
		return "docker"
	case strings.Contains(cg, "libpod"):
		return "podman"
	case strings.Contains(cg, "/lxc"):
		return "lxc"
	case strings.Contains(cg, "kubepods"):
		return "kubernetes" // a pod whose runtime left no name in the path
	}
	return ""
}

// orchestrator is "kubernetes-<gitVersion>" when running in a pod and the API
// answers /version within a second, "kubernetes" when it does not.
func orchestrator(ctx context.Context) string {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, censusProbeTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		Proxy: nil, // the in-cluster service address is never behind the user's proxy
		// Only the public /version is read, so the cluster CA is not needed.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(host, port)+"/version", nil)
	if err != nil {
		return "kubernetes"
	}
	resp, err := client.Do(req)
	if err != nil {
		return "kubernetes"
	}
	defer resp.Body.Close()
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v) != nil || v.GitVersion == "" {
		return "kubernetes"
	}
	return "kubernetes-" + v.GitVersion
}
