package kubetest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kubelet is a stand-in for the kubelet of a Node: the one part of a cluster
// that cannot run here. The API server proxies `kubectl logs` to
// https://<node InternalIP>:<kubeletEndpoint port>/containerLogs/<ns>/<pod>/<container>;
// this server answers there from fixtures, honouring timestamps, sinceSeconds
// and previous as the kubelet does. Its certificate is not checked: the API
// server runs without --kubelet-certificate-authority.
type Kubelet struct {
	Port int

	srv *httptest.Server

	mu   sync.Mutex
	logs map[string][]LogLine // "ns/pod/container" or "ns/pod/container/previous"
}

// LogLine is one line a container wrote, Age before the stand-in serves it.
type LogLine struct {
	Age  time.Duration
	Text string
}

func newKubelet() *Kubelet {
	k := &Kubelet{logs: map[string][]LogLine{}}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.containerLogs))
	k.srv.Listener = mustListen()
	k.srv.StartTLS()
	k.Port = k.srv.Listener.Addr().(*net.TCPAddr).Port
	return k
}

// SetLogs sets what a container wrote (previous: its run before the last restart).
func (k *Kubelet) SetLogs(namespace, pod, container string, previous bool, lines ...LogLine) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.logs[logKey(namespace, pod, container, previous)] = lines
}

func logKey(namespace, pod, container string, previous bool) string {
	k := namespace + "/" + pod + "/" + container
	if previous {
		k += "/previous"
	}
	return k
}

func (k *Kubelet) containerLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	previous := q.Get("previous") == "true"
	k.mu.Lock()
	lines, ok := k.logs[logKey(parts[0], parts[1], parts[2], previous)]
	k.mu.Unlock()
	if !ok {
		// The kubelet's words for a container it has no such log of.
		msg := fmt.Sprintf("container %q in pod %q is not available", parts[2], parts[1])
		if previous {
			msg = fmt.Sprintf("previous terminated container %q in pod %q not found", parts[2], parts[1])
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	since := time.Duration(-1)
	if s, err := strconv.Atoi(q.Get("sinceSeconds")); err == nil {
		since = time.Duration(s) * time.Second
	}
	now := time.Now().UTC()
	w.Header().Set("Content-Type", "text/plain")
	for _, l := range lines {
		if since >= 0 && l.Age > since {
			continue
		}
		if q.Get("timestamps") == "true" {
			fmt.Fprintf(w, "%s ", now.Add(-l.Age).Format(time.RFC3339Nano))
		}
		fmt.Fprintln(w, l.Text)
	}
}

// Close stops the stand-in.
func (k *Kubelet) Close() { k.srv.Close() }

// hungKubelet accepts connections and never answers, as a kubelet on a node
// whose runtime is wedged does.
type hungKubelet struct {
	Port int
	l    net.Listener

	mu    sync.Mutex
	conns []net.Conn
}

func newHungKubelet() *hungKubelet {
	h := &hungKubelet{l: mustListen()}
	h.Port = h.l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := h.l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *hungKubelet) Close() {
	h.l.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}

func mustListen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("kubetest: listen for a stand-in kubelet: %v", err))
	}
	return l
}
