package gather

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// binDirs are where installers put binaries, searched under a sysroot.
var binDirs = []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/opt/bin"}

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
	if r := detectKube(ctx, env.KubeTarget); r != "" {
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

// kubeDetectTimeout bounds the /readyz call of detection: a cluster that
// does not answer this fast is not gathered unless asked for.
const kubeDetectTimeout = 3 * time.Second

// detectKube reports a kubeconfig (or the pod's service account) that exists
// and whose context answers /readyz quickly.
func detectKube(ctx context.Context, t KubeTarget) string {
	path, ok := kubeconfigPath(t)
	if !ok {
		return ""
	}
	out, _, err := kubectlRun(ctx, kubeDetectTimeout, append(t.kubectl(), "get", "--raw", "/readyz")...)
	if err != nil || strings.TrimSpace(out) != "ok" {
		return ""
	}
	name := t.Context
	if name == "" {
		cur, _, _ := kubectlRun(ctx, kubeDetectTimeout, append(t.kubectl(), "config", "current-context")...)
		name = strings.TrimSpace(cur)
	}
	return fmt.Sprintf("kubeconfig %s: context %q answers /readyz", path, name)
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
