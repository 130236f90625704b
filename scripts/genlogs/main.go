// Command genlogs writes a tree of realistic log files for benchmarks:
// go run ./scripts/genlogs DIR SIZE_MIB
package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: genlogs DIR SIZE_MIB")
		os.Exit(2)
	}
	mib, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlogs: SIZE_MIB:", err)
		os.Exit(2)
	}
	if err := write(os.Args[1], int64(mib)<<20); err != nil {
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

// write fills dir with 16 files of about size/16 bytes each.
func write(dir string, size int64) error {
	r := rand.New(rand.NewPCG(1, 2))
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 16 {
		p := filepath.Join(dir, services[i%len(services)], fmt.Sprintf("app-%02d.log", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		var n int64
		for n < size/16 {
			t = t.Add(time.Duration(r.IntN(5000)) * time.Microsecond)
			line := fmt.Sprintf("%s %-5s [%s] %s request_id=%016x latency_ms=%d user=user%03d\n",
				t.Format(time.RFC3339Nano), levels[r.IntN(len(levels))], services[r.IntN(len(services))],
				messages[r.IntN(len(messages))], r.Uint64(), r.IntN(900), r.IntN(200))
			m, err := w.WriteString(line)
			if err != nil {
				return err
			}
			n += int64(m)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
