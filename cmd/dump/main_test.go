package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/kubetest"
)

// The tests drive the real binary, as a user or a script would.
var dumpBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dump-cli-test-")
	if err != nil {
		panic(err)
	}
	dumpBin = filepath.Join(dir, "dump")
	build := exec.Command("go", "build", "-o", dumpBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building dump: " + err.Error())
	}
	code := m.Run()
	kubetest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the module root (testdata/, scripts/).
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

type result struct {
	stdout, stderr string
	code           int
}

// lastLine is what the contract says scripts use: the last stdout line.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	return lines[len(lines)-1]
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout:\n" + r.stdout + "\n--- stderr:\n" + r.stderr
}

// runDump runs the binary with a clean environment plus env, in dir.
func runDump(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(dumpBin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(t), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run dump %v: %v", args, err)
	}
	return r
}

// measurePeakRSS runs cmd under /usr/bin/time and returns a function that
// reads its peak RSS in bytes once it has run. The child's own rusage will not
// do: Go starts children sharing its memory until exec (CLONE_VM), and the
// kernel counts the test binary's peak into the child's ru_maxrss.
func measurePeakRSS(t testing.TB, cmd *exec.Cmd) func() int64 {
	t.Helper()
	const timeBin = "/usr/bin/time" // Debian's time package; .ci/run installs it
	if _, err := os.Stat(timeBin); err != nil {
		t.Fatalf("measuring a peak RSS needs %s: apt-get install time", timeBin)
	}
	out := filepath.Join(t.TempDir(), "maxrss")
	cmd.Args = append([]string{timeBin, "-f", "%M", "-o", out}, cmd.Args...)
	cmd.Path = timeBin
	return func() int64 {
		t.Helper()
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		// time writes "Command exited with non-zero status N" first when it did.
		fields := strings.Fields(string(b))
		kib, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", timeBin, b, err)
		}
		return kib << 10
	}
}

// baseEnv: the fake product tools first on PATH, no user config, no cloud probes.
func baseEnv(t testing.TB) []string {
	root := repoRoot(t)
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"PATH=" + filepath.Join(root, "testdata", "bin") + ":" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(),
		"DUMP_CONFIG=" + config,
		"DUMP_NO_CLOUD_DETECT=1",
		"DUMP_QUIET=1",
	}
}
