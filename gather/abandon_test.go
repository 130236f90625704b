package gather

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A collector that ignores its deadline (as a read blocked on a hung mount
// would) does not hang the run: it is recorded as timed out and left behind,
// and what it writes after that never reaches the tree.
func TestStuckCollectorIsAbandoned(t *testing.T) {
	release := make(chan struct{})
	wrote := make(chan error, 1)
	kinds["stuck"] = kindFunc(func(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
		<-release // deaf to ctx
		tb := newTailBuffer(1 << 10)
		tb.Write([]byte("late\n"))
		wrote <- s.writeOutput(res, c.Output, tb, false)
	})
	t.Cleanup(func() { delete(kinds, "stuck") })
	graceWas := abandonGrace
	abandonGrace, killGrace = 200*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { abandonGrace, killGrace = graceWas, 2*time.Second })

	withProfiles(t,
		Collector{Name: "stuck", Category: "test", Kind: "stuck", Output: "system/stuck.txt", Timeout: Duration(300 * time.Millisecond)},
		sh("fine", "system/fine.txt", "echo fine"))
	opts := testOptions(t)
	start := time.Now()
	res := mustRun(t, opts)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the run waited %s for a stuck collector", took)
	}
	r := result(t, res, "stuck")
	if r.Status != StatusTimedOut || !strings.Contains(r.Error, "abandoned") {
		t.Fatalf("stuck collector recorded as %s: %s", r.Status, r.Error)
	}
	if result(t, res, "fine").Status != StatusOK || readOut(t, res, "system/fine.txt") != "fine\n" {
		t.Fatalf("the other collector did not finish normally")
	}
	close(release)
	if err := <-wrote; err != errAbandoned {
		t.Fatalf("a write after abandonment returned %v, want errAbandoned", err)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "system", "stuck.txt")); err == nil {
		t.Fatalf("an abandoned collector wrote into the tree")
	}
}

// kindFunc is a kind for tests: any collector is valid, and f runs it.
type kindFunc func(ctx context.Context, s *runState, c Collector, res *CollectorResult)

func (kindFunc) validate(*Collector) (string, error) { return "", nil }
func (kindFunc) describe(Collector, Env) string      { return "test" }
func (f kindFunc) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	f(ctx, s, c, res)
}
