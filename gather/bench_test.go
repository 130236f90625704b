package gather

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkRunner runs 40 collectors that each take 1 s. With the pool the
// wall time is about ceil(40/concurrency) seconds instead of 40.
func BenchmarkRunner(b *testing.B) {
	var cs []Collector
	for i := range 40 {
		cs = append(cs, Collector{Name: fmt.Sprintf("sleep%02d", i), Category: "bench", Kind: KindRun,
			Command: []string{"sleep", "1"}, Output: fmt.Sprintf("bench/sleep%02d.txt", i)})
	}
	for _, conc := range []int{8, 40} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			withProfiles(b, cs...)
			var wall time.Duration
			for b.Loop() {
				opts := testOptions(b)
				opts.Concurrency = conc
				start := time.Now()
				res := mustRun(b, opts)
				wall += time.Since(start)
				if res.Incomplete() {
					b.Fatalf("incomplete: %s", res.Summary())
				}
			}
			b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
		})
	}
}

// BenchmarkCopyPodLogs copies a sysroot's pod log directory of 2,000 small
// files: every path is resolved inside the sysroot and every file checked
// before it is read.
func BenchmarkCopyPodLogs(b *testing.B) {
	root := b.TempDir()
	line := strings.Repeat("2024-05-01T10:00:00Z stdout F a log line of some length\n", 64)
	for i := range 2000 {
		p := filepath.Join(root, "var/log/pods", fmt.Sprintf("ns_pod-%04d_uid", i), "c", "0.log")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	withProfiles(b, Collector{Name: "pods", Category: "k3s", Kind: KindCopy, Paths: []string{"/var/log/pods"}, Output: "k3s/pods"})
	for b.Loop() {
		opts := testOptions(b)
		opts.Sysroot = root
		if res := mustRun(b, opts); len(result(b, res, "pods").Outputs) != 2000 {
			b.Fatal("not all files copied")
		}
	}
}
