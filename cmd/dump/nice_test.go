package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Collectors run at nice 19 and in the idle I/O class unless --nice=false.
func TestNiceCollectors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("priorities are lowered on Linux only")
	}
	base, err := exec.Command("nice").Output()
	if err != nil {
		t.Fatal(err)
	}
	spec := writeSpec(t, `- name: priority
  category: system
  kind: run
  command: [sh, -c, "nice; ionice 2>/dev/null || echo no-ionice"]
  output: system/priority.txt
`)
	for _, tc := range []struct {
		flag, nice, io string
	}{
		{"--nice", "19", "idle"},
		{"--nice=false", strings.TrimSpace(string(base)), "none"},
	} {
		r := runDump(t, t.TempDir(), nil, "gather", "--profile", "none", "--spec", spec, "--out", t.TempDir(), tc.flag)
		if r.code != 0 {
			t.Fatalf("%s: %s", tc.flag, r)
		}
		lines := strings.Fields(readFile(t, filepath.Join(untar(t, r.lastLine()), "system", "priority.txt")))
		if lines[0] != tc.nice {
			t.Errorf("%s: collector ran at nice %s, want %s", tc.flag, lines[0], tc.nice)
		}
		if lines[1] != "no-ionice" && !strings.HasPrefix(lines[1], tc.io) {
			t.Errorf("%s: collector's I/O class %q, want %s", tc.flag, lines[1], tc.io)
		}
	}
}
