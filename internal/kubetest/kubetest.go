// Package kubetest runs a real Kubernetes control plane (etcd and
// kube-apiserver v1.32, started by scripts/kube.sh from binaries it built once
// into the cache) for tests of the kube profile, populated like a Teleport
// install. The kubelet is the one stand-in: a small TLS server serving
// container logs from fixtures, which the API server reaches through a Node
// whose status points at it; and, for cluster dumps, PodRunner, which runs
// the pods bound to its Nodes as local processes and serves `kubectl exec`
// into them with the kubelet's own remotecommand server.
//
// Each test binary shares one cluster, started on first use:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		kubetest.StopShared()
//		os.Exit(code)
//	}
//
//	func TestKube(t *testing.T) {
//		c := kubetest.Shared(t)
//		// KUBECONFIG=c.AdminKubeconfig kubectl ... sees namespace teleport
//	}
//
// Tests that break their cluster (SIGSTOP etcd, stop the API server) take
// their own with Start. KUBETEST_REUSE=1 makes Shared use the instance of
// `scripts/kube.sh start` when one runs (faster while iterating on one
// package; do not run two test binaries on it at once).
//
// Failing to start fails the tests. Only DUMP_SKIP_KUBE=1 turns them into
// loud skips (for machines that cannot build kube-apiserver; CI never sets it).
package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const skipMessage = "kube-apiserver tests SKIPPED because DUMP_SKIP_KUBE=1: the kube profile is NOT tested against a real API server"

// Cluster is one running control plane with a populated Teleport install.
type Cluster struct {
	Server           string // https://127.0.0.1:PORT
	AdminKubeconfig  string // user "admin" in system:masters
	ViewerKubeconfig string // user "viewer": read access in Namespace only, not to Secrets nor RBAC objects
	EtcdPID          int
	APIServerPID     int
	Kubelet          *Kubelet // the stand-in behind Node StandInNode

	runDir string // kube.sh's KUBE_RUN_DIR; "" when reusing the default instance
	owned  bool   // started here: Stop ends it
	hung   *hungKubelet
}

// Skipped reports whether DUMP_SKIP_KUBE=1 asks to skip the kube tests.
func Skipped() bool { return os.Getenv("DUMP_SKIP_KUBE") == "1" }

var shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// Shared is the test binary's cluster, started and populated on first use.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if Skipped() {
		t.Skip(skipMessage)
	}
	shared.once.Do(func() {
		fmt.Fprintln(os.Stderr, "kubetest: starting etcd and kube-apiserver")
		c, err := StartCluster(os.Getenv("KUBETEST_REUSE") == "1")
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err = c.Populate(ctx)
			cancel()
			if err != nil {
				c.Stop()
			}
		}
		shared.cluster, shared.err = c, err
	})
	if shared.err != nil {
		t.Fatalf("kubetest: %v\n(set DUMP_SKIP_KUBE=1 only if kube-apiserver cannot be built here)", shared.err)
	}
	return shared.cluster
}

// StopShared stops the shared cluster if a test started it; call it from
// TestMain after m.Run.
func StopShared() {
	if shared.cluster != nil && shared.err == nil {
		shared.cluster.Stop()
	}
}

// Start runs a populated cluster of t's own, stopped at its end: for tests
// that break it.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if Skipped() {
		t.Skip(skipMessage)
	}
	c, err := StartCluster(false)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Populate(ctx); err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	return c
}

// StartCluster starts a control plane through scripts/kube.sh (or, with
// reuse, takes the running default instance) and the stand-in kubelets; the
// caller must Stop it. It does not populate the cluster.
func StartCluster(reuse bool) (*Cluster, error) {
	if err := needBinaries(); err != nil {
		return nil, err
	}
	c := &Cluster{Kubelet: newKubelet(), hung: newHungKubelet()}
	var env map[string]string
	var err error
	if reuse {
		env, err = kubeSh(nil, "env")
	}
	if !reuse || err != nil {
		c.runDir, err = os.MkdirTemp("", "kubetest-")
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.owned = true
		env, err = kubeSh([]string{"KUBE_RUN_DIR=" + c.runDir, "KUBELET_PORT=" + strconv.Itoa(c.Kubelet.Port),
			"KUBE_WATCH_PID=" + strconv.Itoa(os.Getpid())}, "start")
		if err != nil {
			c.Stop()
			return nil, err
		}
	}
	c.Server = env["KUBE_SERVER"]
	c.AdminKubeconfig = env["KUBECONFIG"]
	c.ViewerKubeconfig = env["KUBE_VIEWER_KUBECONFIG"]
	c.EtcdPID, _ = strconv.Atoi(env["KUBE_ETCD_PID"])
	c.APIServerPID, _ = strconv.Atoi(env["KUBE_APISERVER_PID"])
	if c.Server == "" || c.AdminKubeconfig == "" || c.EtcdPID == 0 || c.APIServerPID == 0 {
		c.Stop()
		return nil, fmt.Errorf("scripts/kube.sh start printed an incomplete environment: %v", env)
	}
	return c, nil
}

// Stop ends the control plane (if started here) and the stand-ins.
func (c *Cluster) Stop() {
	if c.owned {
		if _, err := kubeSh([]string{"KUBE_RUN_DIR=" + c.runDir}, "stop"); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
		}
		os.RemoveAll(c.runDir)
		c.owned = false
	}
	c.Kubelet.Close()
	c.hung.Close()
}

// FreezeEtcd stops etcd with SIGSTOP, as a wedged disk would, until the end
// of the test.
func (c *Cluster) FreezeEtcd(t testing.TB) {
	t.Helper()
	c.signal(t, c.EtcdPID, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(c.EtcdPID, syscall.SIGCONT) })
}

// StopAPIServer kills the API server for good: the address then refuses
// connections.
func (c *Cluster) StopAPIServer(t testing.TB) {
	t.Helper()
	c.signal(t, c.APIServerPID, syscall.SIGKILL)
	for range 50 {
		if syscall.Kill(c.APIServerPID, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) signal(t testing.TB, pid int, sig syscall.Signal) {
	t.Helper()
	if !c.owned {
		t.Fatal("kubetest: will not break a cluster this test binary did not start; use kubetest.Start")
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kubetest: signal %d: %v", pid, err)
	}
}

// Kubectl runs kubectl as the admin (a later --kubeconfig wins) and returns
// its stdout, also when it fails.
func (c *Cluster) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", c.AdminKubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// needBinaries fails fast when scripts/kube.sh has not built the binaries:
// building them takes far longer than a test binary may run.
func needBinaries() error {
	cache := os.Getenv("DUMP_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		cache = filepath.Join(home, ".cache", "dump")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(cache, "kube", "bin", b)); err != nil {
			return fmt.Errorf("%s is not built: run scripts/kube.sh build once (about 15 minutes; make test does it)", b)
		}
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		return errors.New("kubectl is not installed: the kube profile runs it")
	}
	return nil
}

// kubeSh runs scripts/kube.sh with extra environment and returns the
// variables it exported on stdout.
func kubeSh(env []string, arg string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "scripts", "kube.sh"), arg)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/kube.sh %s: %w: %s", arg, err, strings.TrimSpace(stderr.String()))
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

// repoRoot is the module root, where scripts/ is.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
