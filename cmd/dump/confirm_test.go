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
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script(1) is needed to give dump a terminal (Debian package bsdutils): %v", err)
	}
	line := dumpBin
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.Command("script", "-q", "-e", "-c", line, "/dev/null")
	cmd.Env = baseEnv(t)
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
	_, recipient := keygen(t)
	spec := writeSpec(t, okSpec)

	t.Run("upload without the key", func(t *testing.T) {
		bucketDir := t.TempDir()
		out, code := runOnTerminal(t, "y\nn\n", "gather-upload-confirm", "--to", "file://"+bucketDir,
			"--recipient", recipient, "--out", t.TempDir(), "--profile", "none", "--spec", spec)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, want := range []string{"About to upload", "redactions:", "recipients:", "Upload?", "Include the encrypted key", "key=AGE-SECRET-KEY-1"} {
			if !strings.Contains(out, want) {
				t.Fatalf("the terminal did not show %q:\n%s", want, out)
			}
		}
		dumps, _ := filepath.Glob(filepath.Join(bucketDir, "*", "info.json"))
		keys, _ := filepath.Glob(filepath.Join(bucketDir, "*", "key.age"))
		if len(dumps) != 1 || len(keys) != 0 {
			t.Fatalf("want one dump without key.age, got infos %v keys %v", dumps, keys)
		}
		key := out[strings.Index(out, "key=AGE-SECRET-KEY-1"):]
		key = strings.TrimSpace(strings.SplitN(key, "\n", 2)[0])
		id := filepath.Base(filepath.Dir(dumps[0]))
		r := runDump(t, t.TempDir(), []string{"DUMP_KEY=" + key}, "decrypt", "--from", "file://"+bucketDir, "--out", t.TempDir(), id)
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
