// Command genlogs writes reproducible trees for benchmarks: the same
// arguments always give the same bytes.
//
//	go run ./scripts/genlogs DIR SIZE_MIB        # a dump-like tree: logs, JSON lines, YAML
//	go run ./scripts/genlogs -small N DIR        # N small files (0.5-4 KiB) in directories of 100
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	small := flag.Int("small", 0, "write this many small files instead")
	flag.Parse()
	var err error
	switch {
	case *small > 0 && flag.NArg() == 1:
		err = writeSmall(flag.Arg(0), *small)
	case *small == 0 && flag.NArg() == 2:
		var mib int
		if mib, err = strconv.Atoi(flag.Arg(1)); err == nil {
			err = writeTree(flag.Arg(0), int64(mib)<<20)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: genlogs DIR SIZE_MIB | genlogs -small N DIR")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlogs:", err)
		os.Exit(1)
	}
}

var (
	levels   = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	services = []string{"auth", "proxy", "node", "kube", "etcd", "containerd", "kubelet", "coredns"}
	messages = []string{
		"request completed", "session started", "heartbeat sent", "cache miss, fetching from backend",
		"connection closed by peer", "lease renewed", "watch restarted after timeout", "certificate rotation scheduled",
	}
)

type gen struct {
	r *rand.Rand
	t time.Time
}

func newGen() *gen {
	return &gen{rand.New(rand.NewPCG(1, 2)), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// logLine is a journal-style text line.
func (g *gen) logLine(w *bufio.Writer) (int, error) {
	g.t = g.t.Add(time.Duration(g.r.IntN(5000)) * time.Microsecond)
	return fmt.Fprintf(w, "%s %-5s [%s] %s request_id=%016x latency_ms=%d user=user%03d\n",
		g.t.Format(time.RFC3339Nano), levels[g.r.IntN(len(levels))], services[g.r.IntN(len(services))],
		messages[g.r.IntN(len(messages))], g.r.Uint64(), g.r.IntN(900), g.r.IntN(200))
}

// jsonLine is a line of journalctl -o json.
func (g *gen) jsonLine(w *bufio.Writer) (int, error) {
	g.t = g.t.Add(time.Duration(g.r.IntN(5000)) * time.Microsecond)
	svc := services[g.r.IntN(len(services))]
	return fmt.Fprintf(w, `{"__REALTIME_TIMESTAMP":"%d","_BOOT_ID":"%016x","PRIORITY":"%d","_SYSTEMD_UNIT":"%s.service","_PID":"%d","_COMM":"%s","MESSAGE":"%s request_id=%016x latency_ms=%d"}`+"\n",
		g.t.UnixMicro(), g.r.Uint64()&0xffff, g.r.IntN(8), svc, 1000+g.r.IntN(30000), svc,
		messages[g.r.IntN(len(messages))], g.r.Uint64(), g.r.IntN(900))
}

// yamlDoc is an object of kubectl get -o yaml.
func (g *gen) yamlDoc(w *bufio.Writer) (int, error) {
	svc := services[g.r.IntN(len(services))]
	return fmt.Fprintf(w, `- apiVersion: v1
  kind: Pod
  metadata:
    name: %s-%08x
    namespace: kube-system
    uid: %016x-%016x
    labels: {app: %s, tier: control-plane}
    creationTimestamp: "%s"
  spec:
    nodeName: node-%02d
    containers:
    - name: %s
      image: registry.example.com/%s:v1.%d.%d
      resources: {requests: {cpu: %dm, memory: %dMi}}
  status:
    phase: Running
    restartCount: %d
`, svc, g.r.Uint32(), g.r.Uint64(), g.r.Uint64(), svc, g.t.Format(time.RFC3339), g.r.IntN(50), svc, svc,
		g.r.IntN(30), g.r.IntN(10), 50+g.r.IntN(500), 64+g.r.IntN(1024), g.r.IntN(5))
}

// writeTree fills dir with about size bytes: 60% text logs in 16 files,
// 25% JSON lines in 4, 15% YAML in 4.
func writeTree(dir string, size int64) error {
	g := newGen()
	type part struct {
		name  string
		files int
		share int64 // percent
		line  func(*bufio.Writer) (int, error)
	}
	for _, p := range []part{
		{"systemd/%s/log-%02d.txt", 16, 60, g.logLine},
		{"systemd/%s/log-%02d.json", 4, 25, g.jsonLine},
		{"kube/%s/pods-%02d.yaml", 4, 15, g.yamlDoc},
	} {
		for i := range p.files {
			name := filepath.Join(dir, fmt.Sprintf(p.name, services[i%len(services)], i))
			if err := writeFile(name, size*p.share/100/int64(p.files), p.line); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSmall writes n files of 0.5-4 KiB, 100 per directory, a mix of the
// three kinds.
func writeSmall(dir string, n int) error {
	g := newGen()
	lines := []func(*bufio.Writer) (int, error){g.logLine, g.jsonLine, g.yamlDoc}
	for i := range n {
		name := filepath.Join(dir, fmt.Sprintf("d%04d", i/100), fmt.Sprintf("f%06d.txt", i))
		if err := writeFile(name, int64(512+g.r.IntN(3584)), lines[i%3]); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(name string, size int64, line func(*bufio.Writer) (int, error)) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for n := int64(0); n < size; {
		m, err := line(w)
		if err != nil {
			f.Close()
			return err
		}
		n += int64(m)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
