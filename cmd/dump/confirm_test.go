package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runOnTerminal runs dump under script(1), which gives it a pseudo-terminal,
// and types answers at its prompts.
func runOnTerminal(t *testing.T, answers string, args ...string) (string, int) {
	t.Helper()
	return runOnTerminalEnv(t, baseEnv(t), answers, args...)
}

// runOnTerminalEnv is runOnTerminal with dump's environment env.
func runOnTerminalEnv(t *testing.T, env []string, answers string, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script(1) is needed to give dump a terminal (Debian package bsdutils): %v", err)
	}
	line := dumpBin
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.Command("script", "-q", "-e", "-c", line, "/dev/null")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(answers)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func TestConfirmFlow(t *testing.T) {
	identity, recipient := keygen(t)
	spec := writeSpec(t, okSpec)

	// The user declines the key; the upload then fails, and the printed retry
	// must still not send the key.
	t.Run("upload without the key", func(t *testing.T) {
		bucketDir, outbox := t.TempDir(), t.TempDir()
		const id = "5e0c1d2a-3b4c-4d5e-9f60-718293a4b5c6"
		blocker := filepath.Join(bucketDir, id)
		os.WriteFile(blocker, []byte("in the way"), 0o600)
		out, code := runOnTerminal(t, "y\nn\n", "gather-upload-confirm", "--to", "file://"+bucketDir, "--uuid", id,
			"--recipient", recipient, "--out", outbox, "--profile", "none", "--spec", spec)
		if code != 1 {
			t.Fatalf("want exit 1 from the blocked upload, got %d:\n%s", code, out)
		}
		for _, want := range []string{"About to upload", "redactions:", "recipients:", "Upload?", "Include the encrypted key", "key=AGE-SECRET-KEY-1", "dump upload"} {
			if !strings.Contains(out, want) {
				t.Fatalf("the terminal did not show %q:\n%s", want, out)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(outbox, "*.key.age")); len(left) != 0 {
			t.Fatalf("the key the user chose not to upload is still next to the dump (a retry would send it): %v", left)
		}
		os.Remove(blocker)
		r := runDump(t, t.TempDir(), nil, "upload", "--to", "file://"+bucketDir, filepath.Join(outbox, "dump-"+id+".tar.zst.age"))
		if r.code != 0 {
			t.Fatalf("retry: %s", r)
		}
		if _, err := os.Stat(filepath.Join(bucketDir, id, "key.age")); err == nil {
			t.Fatalf("the retry uploaded the key the user declined")
		}
		// Support without the key is told to ask for it, not that key.age was lost.
		r = runDump(t, t.TempDir(), nil, "decrypt", "--from", "file://"+bucketDir, "--identity", identity, "--out", t.TempDir(), id)
		if r.code == 0 || strings.Contains(r.stderr, "missing") || !strings.Contains(r.stderr, "--key") {
			t.Fatalf("decrypt without the declined key must ask for the session key: %s", r)
		}
		key := out[strings.Index(out, "key=AGE-SECRET-KEY-1"):]
		key = strings.TrimSpace(strings.SplitN(key, "\n", 2)[0])
		r = runDump(t, t.TempDir(), []string{"DUMP_KEY=" + key}, "decrypt", "--from", "file://"+bucketDir, "--out", t.TempDir(), id)
		if r.code != 0 {
			t.Fatalf("the key shown on the terminal does not open the dump: %s", r)
		}
	})

	t.Run("declined", func(t *testing.T) {
		bucketDir, outbox := t.TempDir(), t.TempDir()
		out, code := runOnTerminal(t, "n\n", "gather-upload-confirm", "--to", "file://"+bucketDir,
			"--recipient", recipient, "--out", outbox, "--profile", "none", "--spec", spec)
		if code != 1 || !strings.Contains(out, "not uploaded") {
			t.Fatalf("declining must upload nothing and say so (exit 1), got exit %d:\n%s", code, out)
		}
		if entries, _ := os.ReadDir(bucketDir); len(entries) != 0 {
			t.Fatalf("something was uploaded after the user said no: %v", entries)
		}
		sealed, _ := filepath.Glob(filepath.Join(outbox, "dump-*.tar.zst.age"))
		if len(sealed) != 1 {
			t.Fatalf("the sealed dump is not kept for a later upload: %v", sealed)
		}
	})
}

// Several dumps match a prefix: on a terminal support picks one by number.
func TestDecryptAsksWhichDump(t *testing.T) {
	identity, recipient := keygen(t)
	bucketDir := t.TempDir()
	bucket := "file://" + bucketDir
	for _, id := range []string{"abcd0000-0000-4000-8000-000000000001", "abcd0000-0000-4000-8000-000000000002"} {
		r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", bucket, "--recipient", recipient, "--uuid", id,
			"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
		if r.code != 0 {
			t.Fatalf("gather-upload: %s", r)
		}
	}
	r := runDump(t, t.TempDir(), nil, "decrypt", "--from", bucket, "--identity", identity, "abcd")
	if r.code != 2 || !strings.Contains(r.stderr, "000000000002") || !strings.Contains(r.stderr, "--all") {
		t.Fatalf("without a terminal, an ambiguous prefix must list the dumps and exit 2: %s", r)
	}
	out := t.TempDir()
	text, code := runOnTerminal(t, "2\n", "decrypt", "--from", bucket, "--identity", identity, "--out", out, "abcd")
	if code != 0 || !strings.Contains(text, "which one?") {
		t.Fatalf("exit %d:\n%s", code, text)
	}
	if _, err := os.Stat(filepath.Join(out, "abcd0000-0000-4000-8000-000000000002", "index.html")); err != nil {
		t.Fatalf("the dump picked was not extracted: %v\n%s", err, text)
	}
}
