package kubetest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// The API server proxies kubectl logs to the stand-in kubelet, which honours
// --timestamps, --since and --previous.
func TestLogsThroughTheAPIServer(t *testing.T) {
	cluster := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs := func(args ...string) string {
		t.Helper()
		out, err := cluster.Kubectl(ctx, "", append([]string{"logs", "-n", Namespace, RunningPod}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cur := logs("-c", "teleport", "--timestamps", "--since=24h")
	if !strings.Contains(cur, CurrentLogLine) || strings.Contains(cur, OldLogLine) {
		t.Errorf("logs --since=24h = %q, want %q and not the two-day-old line", cur, CurrentLogLine)
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(cur)[0]); err != nil {
		t.Errorf("logs --timestamps: line does not start with a timestamp: %q", cur)
	}
	if prev := logs("-c", "teleport", "--previous"); !strings.Contains(prev, PreviousLogLine) {
		t.Errorf("logs --previous = %q, want %q", prev, PreviousLogLine)
	}
	if init := logs("-c", "wait-for-backend"); !strings.Contains(init, InitLogLine) {
		t.Errorf("init container logs = %q, want %q", init, InitLogLine)
	}
}

// The viewer reads its namespace but neither Secrets nor other namespaces.
func TestViewerRBAC(t *testing.T) {
	cluster := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "pods", "-n", Namespace}, "yes"},
		{[]string{"list", "secrets", "-n", Namespace}, "no"},
		{[]string{"list", "pods", "-A"}, "no"},
	} {
		out, _ := cluster.Kubectl(ctx, "", append([]string{"--kubeconfig", cluster.ViewerKubeconfig, "auth", "can-i"}, c.args...)...)
		if got := strings.TrimSpace(out); got != c.want {
			t.Errorf("viewer: can-i %s = %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
}
