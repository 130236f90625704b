package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	remotecommandserver "k8s.io/kubelet/pkg/cri/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// execKubelet is the kubelet side of `kubectl exec` for a PodRunner's Nodes.
// The API server proxies an exec to
// https://<node>:<port>/exec/<ns>/<pod>/<container>?command=...&output=1&error=1
// and upgrades it to SPDY toward the kubelet (translating kubectl's
// WebSocket); this server answers with the kubelet's own implementation of
// the remotecommand protocol (k8s.io/kubelet's streaming package) and runs
// the command as a local process of the pod's node, as PodRunner runs a
// pod's command.
type execKubelet struct {
	port int
	srv  *httptest.Server
	wire atomic.Int64 // bytes this kubelet sent to the API server (TLS included)
	out  atomic.Int64 // bytes of the commands' stdout

	mu           sync.Mutex
	active, peak int // commands running now, and at most
}

func newExecKubelet(r *PodRunner) *execKubelet {
	k := &execKubelet{}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/exec/"), "/")
		if !strings.HasPrefix(req.URL.Path, "/exec/") || len(parts) != 3 {
			http.NotFound(w, req)
			return
		}
		opts, err := remotecommandserver.NewOptions(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The kubelet's defaults: streams must come within 30 s; an idle
		// connection lives 4 h.
		remotecommandserver.ServeExec(w, req, execIn{r: r, k: k}, parts[0]+"/"+parts[1], "", parts[2], req.URL.Query()["command"], opts,
			4*time.Hour, remotecommandconsts.DefaultStreamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
	}))
	k.srv.Listener = countingListener{Listener: mustListen(), n: &k.wire}
	k.srv.StartTLS()
	k.port = k.srv.Listener.Addr().(*net.TCPAddr).Port
	return k
}

// execIn runs an exec'd command on the node of its pod.
type execIn struct {
	r *PodRunner
	k *execKubelet
}

func (e execIn) ExecInContainer(_ context.Context, pod string, _ types.UID, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	e.r.mu.Lock()
	_, running := e.r.running[pod]
	node := e.r.podNode[pod]
	e.r.mu.Unlock()
	if !running {
		return fmt.Errorf("container %q in pod %q is not running", container, pod)
	}
	c := e.r.rewrite(cmd, e.r.nodes[node].Sysroot)
	c.Stdin = in
	if out != nil {
		c.Stdout = countingWriter{w: out, n: &e.k.out}
	}
	if errOut != nil {
		c.Stderr = errOut
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return err
	}
	e.k.mu.Lock()
	e.k.active++
	e.k.peak = max(e.k.peak, e.k.active)
	e.k.mu.Unlock()
	// Its pod deleted, the command is killed with the container.
	e.r.mu.Lock()
	e.r.execs[pod] = append(e.r.execs[pod], c)
	e.r.mu.Unlock()
	err := c.Wait()
	e.k.mu.Lock()
	e.k.active--
	e.k.mu.Unlock()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return utilexec.CodeExitError{Err: err, Code: exit.ExitCode()}
	}
	return err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}
