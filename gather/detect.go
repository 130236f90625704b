package gather

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// binDirs are where installers put binaries, searched under a sysroot.
var binDirs = []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/opt/bin"}

// kubeProbeTimeout bounds `kubectl config current-context`.
const kubeProbeTimeout = 2 * time.Second

// Detect says which built-in profiles apply to the host under env.Sysroot,
// each with what was found. "host" always applies. On the live host ("/")
// binaries are also looked up in PATH; under another sysroot only its own
// bin directories count, since PATH belongs to the machine dump runs on.
func Detect(ctx context.Context, env Env) []Detection {
	root := env.Sysroot
	if root == "" {
		root = "/"
	}
	ds := []Detection{{Profile: "host", Reason: "always gathered"}}
	if r := detectProduct(root, "teleport", teleportConfigPath); r != "" {
		ds = append(ds, Detection{Profile: "teleport", Reason: r})
	}
	if r := detectProduct(root, "k3s", "/etc/rancher/k3s"); r != "" {
		ds = append(ds, Detection{Profile: "k3s", Reason: r})
	}
	if r := detectKube(ctx); r != "" {
		ds = append(ds, Detection{Profile: "kube", Reason: r})
	}
	return ds
}

// detectProduct finds a product's binary or its config path, and says which.
func detectProduct(root, binary, config string) string {
	if p := findBinary(root, binary); p != "" {
		return "found the " + binary + " binary at " + p
	}
	if existsUnder(root, config) {
		return "found " + displayPath(root, config)
	}
	return ""
}

// findBinary returns where binary is: under the sysroot's bin directories,
// or, on the live host, in PATH.
func findBinary(root, binary string) string {
	if isLiveRoot(root) {
		if p, err := exec.LookPath(binary); err == nil {
			return p
		}
	}
	for _, d := range binDirs {
		if fi, err := statHost(root, d+"/"+binary); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return displayPath(root, d+"/"+binary)
		}
	}
	return ""
}

// detectKube reports a usable kubectl context: KUBECONFIG set, running in a
// pod, or `kubectl config current-context` answering within 2 s.
func detectKube(ctx context.Context) string {
	if v := os.Getenv("KUBECONFIG"); v != "" {
		return "KUBECONFIG is set"
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return "running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is set)"
	}
	out, err := probe(ctx, kubeProbeTimeout, "kubectl", "config", "current-context")
	name := strings.TrimSpace(string(out))
	if err != nil || name == "" {
		return ""
	}
	return fmt.Sprintf("kubectl has a current context (%s)", name)
}

func isLiveRoot(root string) bool {
	abs, err := filepath.Abs(root)
	return err == nil && abs == "/"
}

// displayPath shows p as found: with the sysroot prefix when there is one.
func displayPath(root, p string) string {
	if isLiveRoot(root) {
		return p
	}
	return rootJoin(root, p)
}
