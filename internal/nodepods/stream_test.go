package nodepods

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fleet"
	"github.com/dumptool/dump/internal/kubetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	kubetest.StopShared()
	os.Exit(code)
}

// nodeScript stands in for the image's dump on a node: it writes the node's
// part.bin (under its --sysroot) to stdout, or fails as the node's "fail"
// file says.
const nodeScript = `for a; do root=$a; done
sleep 1
if [ -e "$root/hang" ]; then echo started; exec sleep 600; fi
if [ -e "$root/fail" ]; then cat "$root/fail" >&2; exit 4; fi
cat "$root/part.bin"`

// runNodeScript is the stand-in kubelet's rewrite: dump runs nodeScript
// with /host mapped to the node's sysroot.
func runNodeScript(args []string, sysroot string) *exec.Cmd {
	if args[0] == "dump" {
		for i, a := range args {
			if a == "/host" {
				args[i] = sysroot
			}
		}
		return exec.Command("sh", append([]string{"-c", nodeScript, "dump"}, args[1:]...)...)
	}
	return exec.Command(args[0], args[1:]...) // the pod's own command: it holds the node
}

// capped refuses more than max bytes, as the offline orchestration's part
// files do.
type capped struct {
	got []byte
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if len(c.got)+len(p) > c.max {
		return 0, errors.New("part too large")
	}
	c.got = append(c.got, p...)
	return len(p), nil
}

// With Job.Stdout set, each node's command runs in its holding pod through
// the real API server's exec (to the stand-in kubelet), its stdout comes
// back whole, and each failure says its kind.
func TestStreamThroughAPIServer(t *testing.T) {
	c := kubetest.Shared(t)
	root := t.TempDir()
	part := make([]byte, 3<<20)
	rand.Read(part)
	sysroot := func(name string, files map[string][]byte) string {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o700)
		for f, b := range files {
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	runner := c.RunPods(t, "dumptest", "stream", map[string]kubetest.StandInNode{
		"stream-ok":   {Sysroot: sysroot("ok", map[string][]byte{"part.bin": part})},
		"stream-ok2":  {Sysroot: sysroot("ok2", map[string][]byte{"part.bin": []byte("two")})},
		"stream-ok3":  {Sysroot: sysroot("ok3", map[string][]byte{"part.bin": []byte("three")})},
		"stream-big":  {Sysroot: sysroot("big", map[string][]byte{"part.bin": part})},
		"stream-fail": {Sysroot: sysroot("fail", map[string][]byte{"fail": []byte("gathering\ncannot seal: disk full\n")})},
		"stream-pull": {PullFails: true},
	}, runNodeScript)

	var ok, ok2, ok3, fail, pull bytes.Buffer
	big := &capped{max: 1 << 20}
	results, err := Run(context.Background(), Options{
		Kubectl: Kubectl{Kubeconfig: c.AdminKubeconfig}, Namespace: "default", Session: "5e0c1d2a-3b4c-4d5e-9f60-718293a4b5c6",
		Image: "dump:test", Concurrency: 2, NodeTimeout: 2 * time.Minute, Progress: t.Logf,
	}, []fleet.Job{
		{Node: "stream-ok", Args: fleet.Fixed("gather", "--stdout"), Stdout: &ok},
		{Node: "stream-big", Args: fleet.Fixed("gather", "--stdout"), Stdout: big},
		{Node: "stream-fail", Args: fleet.Fixed("gather", "--stdout"), Stdout: &fail},
		{Node: "stream-pull", Args: fleet.Fixed("gather", "--stdout"), Stdout: &pull},
		{Node: "stream-ok2", Args: fleet.Fixed("gather", "--stdout"), Stdout: &ok2},
		{Node: "stream-ok3", Args: fleet.Fixed("gather", "--stdout"), Stdout: &ok3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Err != nil || !bytes.Equal(ok.Bytes(), part) {
		t.Errorf("stream-ok: err %v, %d bytes back of %d sent", results[0].Err, ok.Len(), len(part))
	}
	if err := results[1].Err; err == nil || !strings.Contains(err.Error(), "part too large") {
		t.Errorf("stream-big: a part over the writer's cap must end the stream with its error, got %v", err)
	}
	if err := results[2].Err; err == nil || gather.ClassifyErr(err) != gather.FailCommandFailed ||
		!strings.Contains(err.Error(), "code 4") || !strings.Contains(err.Error(), "cannot seal: disk full") {
		t.Errorf("stream-fail: want command_failed with the exit code and the last lines, got %v (%s)", err, gather.ClassifyErr(err))
	}
	if err := results[3].Err; err == nil || gather.ClassifyErr(err) != gather.FailImagePull {
		t.Errorf("stream-pull: want image_pull, got %v", err)
	}
	if results[4].Err != nil || ok2.String() != "two" || results[5].Err != nil || ok3.String() != "three" {
		t.Errorf("stream-ok2, stream-ok3: %v %q, %v %q", results[4].Err, ok2.String(), results[5].Err, ok3.String())
	}
	if peak := runner.ExecPeak(); peak < 1 || peak > 2 {
		t.Errorf("%d exec streams ran at once; Concurrency is 2", peak)
	}
	stdout, wire := runner.ExecBytes()
	t.Logf("through the API server: %d bytes of stdout, %d bytes on the kubelet's wire (%.3f×)", stdout, wire, float64(wire)/float64(stdout))
	for _, p := range runner.Pods() {
		if !bytes.Contains(p, []byte(`"command":["sleep","120"]`)) {
			t.Errorf("a streaming node pod does not just hold its node:\n%s", p)
		}
	}
	if out, _ := c.Kubectl(context.Background(), "", "get", "pods,serviceaccounts", "-A", "-l", LabelKey, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("left in the cluster:\n%s", out)
	}
}

// A run interrupted while a node's command streams ends at once: the
// stream is cut, the pod deleted (and the command with it), nothing left.
func TestStreamInterrupted(t *testing.T) {
	c := kubetest.Shared(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hang"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	runner := c.RunPods(t, "dumptest", "stream-interrupt", map[string]kubetest.StandInNode{"stream-hang": {Sysroot: root}}, runNodeScript)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	out := writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("started")) {
			close(started)
		}
		return len(p), nil
	})
	done := make(chan error, 1)
	var results []fleet.Result
	go func() {
		var err error
		results, err = Run(ctx, Options{Kubectl: Kubectl{Kubeconfig: c.AdminKubeconfig}, Namespace: "default",
			Session: "1e0c1d2a-3b4c-4d5e-9f60-718293a4b5c6", Image: "dump:test", NodeTimeout: 5 * time.Minute},
			[]fleet.Job{{Node: "stream-hang", Args: fleet.Fixed("gather", "--stdout"), Stdout: out}})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the run ended before the stream started: %v %v", err, results)
	case <-time.After(time.Minute):
		t.Fatal("the node's command never started streaming")
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || results[0].Err == nil || !strings.Contains(results[0].Err.Error(), "interrupted") {
			t.Errorf("an interrupted run: err %v, node %v", err, results[0].Err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run did not end when interrupted mid-stream")
	}
	if _, wire := runner.ExecBytes(); wire == 0 {
		t.Errorf("no exec reached the stand-in kubelet")
	}
	if out, _ := c.Kubectl(context.Background(), "", "get", "pods,serviceaccounts", "-A", "-l", LabelKey, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("left in the cluster:\n%s", out)
	}
	// The pod's deletion reaches the kubelet through its watch.
	for deadline := time.Now().Add(30 * time.Second); runner.ExecRunning() != 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := runner.ExecRunning(); n != 0 {
		t.Errorf("%d exec'd command(s) still run on the node after its pod was deleted", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
