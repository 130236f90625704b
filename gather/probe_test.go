package gather

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A probe that hangs (kubectl waiting on a credential plugin, say) is killed
// at its deadline together with the children it started.
func TestProbeKillsItsChildrenAtTheDeadline(t *testing.T) {
	marker := uniqueSleep()
	start := time.Now()
	_, err := probe(context.Background(), 300*time.Millisecond, "sh", "-c", "sleep "+marker+" & sleep "+marker+"; wait")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("a hung probe returned %v, want a timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the probe took %s to give up", took)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(survivors(marker)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the probe's children survive: %v", survivors(marker))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProbeOutputAndFailures(t *testing.T) {
	out, err := probe(context.Background(), 5*time.Second, "sh", "-c", "echo context-a")
	if err != nil || strings.TrimSpace(string(out)) != "context-a" {
		t.Fatalf("probe = %q, %v", out, err)
	}
	if _, err := probe(context.Background(), 5*time.Second, "sh", "-c", "exit 3"); err == nil {
		t.Fatalf("a failing probe returned no error")
	}
	if _, err := probe(context.Background(), 5*time.Second, "no-such-binary-here"); err == nil {
		t.Fatalf("a missing binary returned no error")
	}
}
