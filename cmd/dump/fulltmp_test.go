package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A full TMPDIR still gives a dump: gather works in --out instead and says so.
func TestGatherWithFullTMPDIR(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs as a full TMPDIR needs root: run the tests as root to check it")
	}
	tmp := t.TempDir()
	if err := syscall.Mount("tmpfs", tmp, "tmpfs", 0, "size=1m,mode=1777"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the full-TMPDIR test needs it", err)
	}
	t.Cleanup(func() { syscall.Unmount(tmp, syscall.MNT_DETACH) })
	filler, err := os.Create(filepath.Join(tmp, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := filler.Write(make([]byte, 64<<10)); err == nil; _, err = filler.Write(make([]byte, 64<<10)) {
	}
	filler.Close()

	out := t.TempDir()
	r := runDump(t, t.TempDir(), []string{"TMPDIR=" + tmp, "DUMP_QUIET=0"}, "gather", "--profile", "none", "--spec", writeSpec(t, okSpec), "--out", out)
	if r.code != 0 {
		t.Fatalf("want a dump with a full TMPDIR: %s", r)
	}
	if !strings.Contains(r.stderr, "gathering in "+out) {
		t.Errorf("the user is not told where the dump was gathered: %s", r.stderr)
	}
	tree := untar(t, r.lastLine())
	if got := readFile(t, filepath.Join(tree, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Fatalf("greeting.txt = %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".dump-gather-*")); len(left) > 0 {
		t.Errorf("working directory left in --out: %v", left)
	}
}
