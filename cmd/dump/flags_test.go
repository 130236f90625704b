package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A flag before the command is honoured as after it: urfave/cli would
// otherwise parse it into the app's flag set, shadowed by the command's own.
func TestFlagsBeforeTheCommand(t *testing.T) {
	spec := writeSpec(t, okSpec)
	loud := []string{"DUMP_QUIET="} // baseEnv sets DUMP_QUIET=1

	r := runDump(t, t.TempDir(), loud, "gather", "--profile", "none", "--spec", spec, "--out", t.TempDir())
	if r.code != 0 || r.stderr == "" {
		t.Fatalf("without -q gather must show progress: %s", r)
	}
	r = runDump(t, t.TempDir(), loud, "-q", "gather", "--profile", "none", "--spec", spec, "--out", t.TempDir())
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("dump -q gather must print nothing on stderr: %s", r)
	}

	_, recipient := keygen(t)
	bucketDir := t.TempDir()
	r = runDump(t, t.TempDir(), nil, "--to", "file://"+bucketDir, "--recipient", recipient, "gather-upload",
		"--profile", "none", "--spec", spec, "--out", t.TempDir())
	if r.code != 0 {
		t.Fatalf("dump --to URL --recipient R gather-upload: %s", r)
	}
	if _, err := os.Stat(filepath.Join(bucketDir, r.lastLine(), "dump.tar.zst.age")); err != nil {
		t.Fatalf("the dump is not in the --to given before the command: %v", err)
	}

	r = runDump(t, t.TempDir(), nil, "--help")
	if !strings.Contains(r.stdout, "options may also come before the command") || strings.Contains(r.stdout, "GLOBAL OPTIONS") {
		t.Fatalf("dump --help must say that a command's options may come before it, and not call plain dump's options global:\n%s", r.stdout)
	}
}

// A limit of 0 or less would silently become the default: it is refused, and
// every refusal or parse error shows a value that works.
func TestLimitsRefused(t *testing.T) {
	bucket := "file://" + t.TempDir()
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"gather", "--max-file-size", "0"}, "e.g. --max-file-size 8MiB"},
		{nil, []string{"gather", "--max-size", "0B"}, "e.g. --max-size 1GiB"},
		{nil, []string{"gather", "--max-file-size", "lots"}, "e.g. --max-file-size 8MiB"},
		{nil, []string{"gather", "--since", "-1h"}, "e.g. --since 24h"},
		{nil, []string{"gather", "--since", "6x"}, "e.g. --since 24h"},
		{[]string{"DUMP_SINCE=6x"}, []string{"gather"}, "e.g. DUMP_SINCE=24h"},
		{nil, []string{"gather", "--timeout", "0"}, "e.g. --timeout 10m"},
		{nil, []string{"gather", "--collector-timeout", "0s"}, "e.g. --collector-timeout 1m"},
		{nil, []string{"gather", "--concurrency", "0"}, "e.g. --concurrency 8"},
		{nil, []string{"gather", "--concurrency", "many"}, "e.g. --concurrency 8"},
		{nil, []string{"gather-upload", "--to", bucket, "--upload-timeout", "0"}, "e.g. --upload-timeout 2h"},
		{nil, []string{"gather-upload", "--to", bucket, "--split", "lots"}, "e.g. --split 25MiB"},
		{nil, []string{"list", "--from", bucket, "--store-timeout", "-5m"}, "e.g. --store-timeout 10m"},
		{nil, []string{"decrypt", "--from", bucket, "--max-files", "0", "x"}, "e.g. --max-files 200000"},
		{nil, []string{"decrypt", "--from", bucket, "--max-bytes", "0", "x"}, "e.g. --max-bytes 16GiB"},
		{nil, []string{"decrypt", "--from", bucket, "--download-concurrency", "0", "x"}, "e.g. --download-concurrency 4"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := tc.args
			if args[0] != "list" {
				args = append(args, "--out", out)
			}
			r := runDump(t, t.TempDir(), tc.env, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit 2 and %q: %s", tc.want, r)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a refused command created its --out (%v)", err)
			}
		})
	}
}

// A config key that is no flag is a typo: refused, naming the file and line.
// A refused value in the config is named the same way.
func TestConfigUnknownKeyRefused(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		anyCommand bool // or only those that have the flag
	}{
		{"since: 6h\nprofile: [none]\nmax-fil-size: 4MiB\n", `config.yaml:3: unknown key "max-fil-size"`, true},
		{"since: 6h\nmax-file-size: 0\n", "config.yaml:2: --max-file-size", false},
		{"\n\nsince: 6x\n", "config.yaml:3: --since \"6x\" is not a duration", false},
	} {
		config := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(config, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"gather", "--dry-run"}, {"list", "--from", "file://" + t.TempDir()}, {"--config", config, "gather", "--dry-run"}} {
			if args[0] == "list" && !tc.anyCommand {
				continue
			}
			r := runDump(t, t.TempDir(), []string{"DUMP_CONFIG=" + config}, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v with a config of %q: want exit 2 and %q: %s", args, tc.body, tc.want, r)
			}
		}
	}
}

// decrypt --all opens every dump it can and names those it could not.
func TestDecryptAllPastAFailure(t *testing.T) {
	identity, recipient := keygen(t)
	_, stranger := keygen(t)
	bucketDir := t.TempDir()
	bucket := "file://" + bucketDir
	const bad, good = "00000000-0000-4000-8000-000000000001", "ffffffff-0000-4000-8000-000000000002"
	// Sealed for someone else first, so it is met before the good one
	// whether dumps are taken by uuid or by age.
	for _, d := range []struct{ id, recipient string }{{bad, stranger}, {good, recipient}} {
		r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", bucket, "--recipient", d.recipient, "--uuid", d.id,
			"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
		if r.code != 0 {
			t.Fatalf("gather-upload %s: %s", d.id, r)
		}
	}
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "decrypt", "--from", bucket, "--identity", identity, "--out", out, "--all", "*")
	if r.code != 1 {
		t.Fatalf("want exit 1 when one of the dumps cannot be opened: %s", r)
	}
	if got := readFile(t, filepath.Join(out, good, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Fatalf("the dump that could be opened was not extracted: %q", got)
	}
	if r.lastLine() != filepath.Join(out, good) {
		t.Fatalf("the last stdout line must be the extracted directory: %s", r)
	}
	if !strings.Contains(r.stderr, "1 of 2 dumps could not be opened ("+bad+")") {
		t.Fatalf("the failure is not named at the end: %s", r)
	}
	if _, err := os.Stat(filepath.Join(out, bad)); !os.IsNotExist(err) {
		t.Fatalf("a dump that could not be opened left a directory (%v)", err)
	}
}

// Messages are plain lines, said once: a bad recipient names itself once; a
// stage's warning is not a time=... level=WARN record; seal never speaks of
// an upload it does not do.
func TestMessagesArePlain(t *testing.T) {
	r := runDump(t, t.TempDir(), nil, "gather", "--encrypt", "--recipient", "age1nope")
	if r.code != 2 || strings.Count(r.stderr, "age1nope") != 1 {
		t.Fatalf("a bad recipient must be a usage error naming it once: %s", r)
	}

	identity, recipient := keygen(t)
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "a.txt"), []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	const id = "0b5e6d1c-7a2f-4c39-9e1d-2f7c3b8a9d40"
	if err := os.Mkdir(filepath.Join(out, "dump-"+id+".tar.zst.age"), 0o700); err != nil {
		t.Fatal(err)
	}
	r = runDump(t, t.TempDir(), nil, "seal", tree, "--recipient", recipient, "--uuid", id, "--out", out)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists") || strings.Contains(r.stderr, "upload") {
		t.Fatalf("a failed seal must say why and nothing about uploads: %s", r)
	}

	r = runDump(t, t.TempDir(), nil, "seal", tree, "--recipient", recipient, "--out", out)
	if r.code != 0 {
		t.Fatalf("seal: %s", r)
	}
	payload := r.lastLine()
	if err := os.Remove(strings.TrimSuffix(payload, ".tar.zst.age") + ".json"); err != nil {
		t.Fatal(err)
	}
	r = runDump(t, t.TempDir(), []string{"DUMP_QUIET="}, "decrypt", "--file", payload, "--identity", identity, "--out", t.TempDir())
	if r.code != 0 || !strings.Contains(r.stderr, "warning: decrypt: no info file") || strings.Contains(r.stderr, "level=") {
		t.Fatalf("decrypt's warning must be a plain line like every other: %s", r)
	}
}
