package gather

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/gather/redact"
)

// withProfiles makes the engine run exactly the given collectors as profile
// "host", on host id "testhost", without the built-in profiles.
func withProfiles(t testing.TB, cs ...Collector) {
	b, d, h, c, g := builtinProfiles, detectProfiles, hostIDOf, censusFunc, diagAddrOf
	t.Cleanup(func() { builtinProfiles, detectProfiles, hostIDOf, censusFunc, diagAddrOf = b, d, h, c, g })
	builtinProfiles = func(Env) []Profile { return []Profile{{Name: "host", Collectors: cs}} }
	detectProfiles = func(context.Context, Env) []Detection {
		return []Detection{{Profile: "host", Reason: "always"}}
	}
	hostIDOf = func(string) (string, string) { return "testhost", "test" }
	diagAddrOf = func(string) string { return "" }
	censusFunc = func(context.Context, Env) CensusInfo { return CensusInfo{} }
}

func testOptions(t testing.TB) Options {
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Dir:              filepath.Join(t.TempDir(), "dump-test"),
		UUID:             "0b5e7f4e-1111-4222-8333-944455556666",
		ToolVersion:      "test",
		Redactor:         red,
		CollectorTimeout: 20 * time.Second,
		Timeout:          time.Minute,
	}
}

func sh(name, output, script string) Collector {
	return Collector{Name: name, Category: "test", Kind: KindRun, Command: []string{"sh", "-c", script}, Output: output}
}

func mustRun(t testing.TB, opts Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func result(t testing.TB, res *Result, name string) CollectorResult {
	t.Helper()
	for _, c := range res.Manifest.Collectors {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no collector %q in the manifest", name)
	return CollectorResult{}
}

func readOut(t testing.TB, res *Result, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(res.Dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// groupMembers lists the live (not zombie) processes of a process group.
func groupMembers(pgid int) []string {
	var live []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so split after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			live = append(live, e.Name()+" "+s[:strings.LastIndexByte(s, ')')+1])
		}
	}
	return live
}

// uniqueSleep is a sleep duration no other process on the machine uses, so
// that survivors can be found by their command line wherever they ended up.
func uniqueSleep() string {
	return fmt.Sprintf("1000.%d", time.Now().UnixNano()%1e9)
}

// survivors lists live processes whose command line contains marker.
func survivors(marker string) []string {
	var live []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), marker) {
			live = append(live, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return live
}

// assertGone fails when a process of the group or with the marker lives on.
func assertGone(t *testing.T, pgid int, marker string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		live := append(groupMembers(pgid), survivors(marker)...)
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes survive: %v", live)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
