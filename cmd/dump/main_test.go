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
