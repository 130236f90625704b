package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// keygen makes a support identity and returns its file and recipient.
func keygen(t *testing.T) (identity, recipient string) {
	t.Helper()
	identity = filepath.Join(t.TempDir(), "support.key")
	r := runDump(t, t.TempDir(), nil, "keygen", "--out", identity)
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "age1") {
		t.Fatalf("keygen: %s", r)
	}
	return identity, r.lastLine()
}

func writeSpec(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const okSpec = `- name: greeting
  category: system
  kind: run
  command: [sh, -c, "echo hello from the spec"]
  output: system/greeting.txt
`

const failingSpec = okSpec + `- name: broken
  category: system
  kind: run
  command: [sh, -c, "echo it broke >&2; exit 4"]
  output: system/broken.txt
`

func TestUsageErrorsExit2(t *testing.T) {
	bucket := "file://" + t.TempDir()
	_, recipient := keygen(t)
	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"gather", "--no-such-flag"}, "no-such-flag"},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
		{"no destination", []string{"gather-upload", "--recipient", recipient}, "--to"},
		{"plain dump without destination", nil, "--to"},
		{"confirm without a terminal", []string{"gather-upload-confirm", "--to", bucket, "--recipient", recipient}, "--yes"},
		{"no recipient", []string{"gather-upload", "--to", bucket}, "--recipient"},
		{"bad recipient", []string{"gather", "--encrypt", "--recipient", "age1nope"}, "age1nope"},
		{"bad size", []string{"gather", "--max-file-size", "lots"}, "max-file-size"},
		{"decrypt without identity", []string{"decrypt", "--from", bucket, "abcd"}, "--identity"},
		{"bad scheme", []string{"gather-upload", "--to", "ftp://x/y", "--recipient", recipient}, "scheme"},
		{"bad uuid", []string{"gather", "--uuid", "not-a-uuid"}, "--uuid"},
		{"malformed spec", []string{"gather", "--spec", writeSpec(t, "- name: x\n  kind: run\n  comand: [true]\n")}, "line 3"},
		{"unknown profile", []string{"gather", "--profile", "bogus"}, `unknown profile "bogus"`},
		{"empty uuid", []string{"decrypt", "--from", bucket, "--identity", "/dev/null", ""}, "dump list"},
		{"unknown option before the command", []string{"--frobnicate"}, "(see dump --help)"},
		{"option of another command before the command", []string{"--to", bucket, "gather"}, "dump gather has no option --to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runDump(t, t.TempDir(), nil, tc.args...)
			if r.code != 2 {
				t.Fatalf("want exit 2, got %s", r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("stderr does not mention %q: %s", tc.want, r)
			}
			if r.stdout != "" {
				t.Fatalf("a usage error printed results on stdout: %s", r)
			}
		})
	}
}

func TestGatherCompleteExit0(t *testing.T) {
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather", "--profile", "none", "--spec", writeSpec(t, okSpec), "--out", out)
	if r.code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	path := r.lastLine()
	if !strings.HasPrefix(path, out) || !strings.HasSuffix(path, ".tar.zst") {
		t.Fatalf("last stdout line %q is not the dump in %s", path, out)
	}
	tree := untar(t, path)
	if got := readFile(t, filepath.Join(tree, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Fatalf("greeting.txt = %q", got)
	}
	for _, f := range []string{"manifest.json", "report.txt", "index.html", "trace.json"} {
		if _, err := os.Stat(filepath.Join(tree, f)); err != nil {
			t.Errorf("dump has no %s: %v", f, err)
		}
	}
}

func TestGatherPartialFailureExit3(t *testing.T) {
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather", "--profile", "none", "--spec", writeSpec(t, failingSpec), "--out", out)
	if r.code != 3 {
		t.Fatalf("want exit 3: %s", r)
	}
	if !strings.Contains(r.stderr, "incomplete") {
		t.Fatalf("the user is not told the dump is incomplete: %s", r)
	}
	tree := untar(t, r.lastLine())
	if got := readFile(t, filepath.Join(tree, "system", "broken.error")); !strings.Contains(got, "it broke") {
		t.Fatalf("broken.error = %q, want the command's stderr", got)
	}
	if !strings.Contains(readFile(t, filepath.Join(tree, "report.txt")), "broken") {
		t.Fatalf("report.txt does not name the failed collector")
	}
}

// A failed upload keeps the sealed files, prints the retry command (exit 1),
// and that command then completes the upload.
func TestUploadFailureKeepsFilesExit1(t *testing.T) {
	identity, recipient := keygen(t)
	bucketDir := t.TempDir()
	bucket := "file://" + bucketDir
	const id = "0b5e6d1c-7a2f-4c39-9e1d-2f7c3b8a9d40"
	// Something already sits where the dump's objects must go.
	if err := os.WriteFile(filepath.Join(bucketDir, id), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	outbox := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", bucket, "--recipient", recipient, "--uuid", id,
		"--out", outbox, "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 1 {
		t.Fatalf("want exit 1: %s", r)
	}
	payload := filepath.Join(outbox, "dump-"+id+".tar.zst.age")
	for _, f := range []string{payload, filepath.Join(outbox, "dump-"+id+".key.age"), filepath.Join(outbox, "dump-"+id+".json")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("sealed file not kept after a failed upload: %v", err)
		}
	}
	retry := "dump upload --to " + bucket + " " + payload
	if !strings.Contains(r.stderr, retry) {
		t.Fatalf("stderr does not give the retry command %q: %s", retry, r)
	}
	os.Remove(filepath.Join(bucketDir, id))
	args := strings.Fields(retry)[1:]
	r = runDump(t, t.TempDir(), nil, args...)
	if r.code != 0 || r.lastLine() != id {
		t.Fatalf("retry: %s", r)
	}
	dir := decryptOK(t, bucket, identity, id[:8])
	if got := readFile(t, filepath.Join(dir, "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Fatalf("greeting.txt after retry = %q", got)
	}
}

// Round trip: gather a fixture sysroot, seal, put in a file:// store, decrypt
// by uuid prefix: the tree equals what was gathered, names and bytes.
func TestRoundTripFixture(t *testing.T) {
	identity, recipient := keygen(t)
	sysroot := filepath.Join(repoRoot(t), "testdata", "fixtures", "teleport-node")
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather", "--sysroot", sysroot, "--profile", "auto", "--out", out)
	if r.code != 0 && r.code != 3 {
		t.Fatalf("gather: %s", r)
	}
	gathered := untar(t, r.lastLine())

	r = runDump(t, t.TempDir(), nil, "seal", gathered, "--recipient", recipient, "--out", out)
	if r.code != 0 {
		t.Fatalf("seal: %s", r)
	}
	bucket := "file://" + t.TempDir()
	r = runDump(t, t.TempDir(), nil, "upload", "--to", bucket, r.lastLine())
	if r.code != 0 {
		t.Fatalf("upload: %s", r)
	}
	id := r.lastLine()
	got := decryptOK(t, bucket, identity, id[:8])
	if a, b := treeDigest(t, gathered), treeDigest(t, got); a != b {
		t.Fatalf("decrypted tree differs from the gathered one:\n--- gathered\n%s\n--- decrypted\n%s", a, b)
	}
	if !strings.Contains(treeDigest(t, got), "nodes/") {
		t.Fatalf("the fixture's teleport node was not gathered:\n%s", treeDigest(t, got))
	}
}

func TestNometa(t *testing.T) {
	identity, recipient := keygen(t)
	bucketDir := t.TempDir()
	bucket := "file://" + bucketDir
	r := runDump(t, t.TempDir(), nil, "gather-upload-nometa", "--to", bucket, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload-nometa: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "key=AGE-SECRET-KEY-1") {
		t.Fatalf("stdout must be key=... then the uuid: %q", r.stdout)
	}
	key, id := strings.TrimPrefix(lines[0], "key="), lines[1]
	if _, err := os.Stat(filepath.Join(bucketDir, id, "key.age")); !os.IsNotExist(err) {
		t.Fatalf("nometa uploaded key.age (stat err %v)", err)
	}
	r = runDump(t, t.TempDir(), nil, "decrypt", "--from", bucket, "--identity", identity, id)
	if r.code == 0 || !strings.Contains(r.stderr, "--key") {
		t.Fatalf("decrypt of a nometa dump without --key must fail and say to pass --key: %s", r)
	}
	out := t.TempDir()
	r = runDump(t, t.TempDir(), []string{"DUMP_KEY=" + key}, "decrypt", "--from", bucket, "--out", out, id)
	if r.code != 0 || r.lastLine() != filepath.Join(out, id) {
		t.Fatalf("decrypt with DUMP_KEY: %s", r)
	}
}

// Stock tools open what was uploaded: age, zstd, tar.
func TestStockToolsOpenUpload(t *testing.T) {
	for _, tool := range []string{"age", "zstd", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (.ci/run installs it): %v", tool, err)
		}
	}
	identity, recipient := keygen(t)
	bucketDir := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", "file://"+bucketDir, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload: %s", r)
	}
	id := r.lastLine()
	obj := filepath.Join(bucketDir, id)
	session := filepath.Join(t.TempDir(), "s.key")
	sh(t, "age -d -i "+identity+" "+filepath.Join(obj, "key.age")+" > "+session)
	listing := sh(t, "age -d -i "+session+" "+filepath.Join(obj, "dump.tar.zst.age")+" | zstd -d | tar -t")
	for _, want := range []string{"dump-" + id + "/index.html", "dump-" + id + "/manifest.json", "dump-" + id + "/system/greeting.txt"} {
		if !strings.Contains(listing, want) {
			t.Fatalf("tar -t does not list %s:\n%s", want, listing)
		}
	}
}

func sh(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", "set -e; "+script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.String())
	}
	return out.String()
}

func decryptOK(t *testing.T, bucket, identity, pattern string) string {
	t.Helper()
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "decrypt", "--from", bucket, "--identity", identity, "--out", out, pattern)
	if r.code != 0 {
		t.Fatalf("decrypt %s: %s", pattern, r)
	}
	dir := r.lastLine()
	if filepath.Dir(dir) != out {
		t.Fatalf("decrypt printed %q, want a directory in %s", dir, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Fatalf("decrypted dump has no index.html: %v", err)
	}
	return dir
}

// untar extracts a plain .tar.zst with the stock tools and returns the tree.
func untar(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	sh(t, "zstd -dc "+path+" | tar -x -C "+dir)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "dump-") {
		t.Fatalf("%s does not hold one dump-<uuid>/ directory: %v %v", path, entries, err)
	}
	return filepath.Join(dir, entries[0].Name())
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// treeDigest lists every file with its sha256, relative to root.
func treeDigest(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(data)
		b.WriteString(filepath.ToSlash(rel) + " " + hex.EncodeToString(sum[:8]) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A reader of stdout that goes away (a node part's ssh session that ended)
// stops the run, which cleans up and exits by itself rather than being
// killed by SIGPIPE in the middle of a write.
func TestStdoutReaderGoneCleansUp(t *testing.T) {
	_, recipient := keygen(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // nobody will read the part
	env := baseEnv(t)
	tmp := strings.TrimPrefix(env[slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "TMPDIR=") })], "TMPDIR=")
	cmd := exec.Command(dumpBin, "gather", "--stdout", "--uuid", "0f1e2d3c-0000-4000-8000-0000000000b1",
		"--recipient", recipient, "--profile", "none", "--spec", writeSpec(t, okSpec))
	cmd.Env = env
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	pw.Close()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Fatalf("dump was killed by %v instead of stopping: %s", ws.Signal(), stderr.String())
	}
	if err == nil {
		t.Errorf("dump exited 0 although its part was never read")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("dump left %d entries in TMPDIR", len(entries))
	}
}
