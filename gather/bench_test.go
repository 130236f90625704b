package gather

import (
	"fmt"
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
