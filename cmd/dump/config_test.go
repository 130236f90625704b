package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// /etc/dump/config.yaml (here --config via DUMP_CONFIG) sets any flag; a
// DUMP_* variable overrides it, and a flag overrides both.
func TestConfigPrecedence(t *testing.T) {
	ok, failing := writeSpec(t, okSpec), writeSpec(t, failingSpec)
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte("profile: [none]\nspec: ["+ok+"]\nmax-file-size: 4MiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DUMP_CONFIG=" + config}

	r := runDump(t, t.TempDir(), env, "gather", "--out", t.TempDir())
	if r.code != 0 {
		t.Fatalf("the config's spec and profile were not used: %s", r)
	}
	if tree := untar(t, r.lastLine()); !strings.Contains(readFile(t, filepath.Join(tree, "manifest.json")), `"max_file_size": 4194304`) {
		t.Fatalf("the config's max-file-size was not used")
	}

	r = runDump(t, t.TempDir(), append(env, "DUMP_SPEC="+failing), "gather", "--out", t.TempDir())
	if r.code != 3 {
		t.Fatalf("DUMP_SPEC must override the config (the failing spec gives exit 3): %s", r)
	}

	r = runDump(t, t.TempDir(), append(env, "DUMP_SPEC="+failing), "gather", "--spec", ok, "--out", t.TempDir())
	if r.code != 0 {
		t.Fatalf("--spec must override DUMP_SPEC and the config: %s", r)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("profile: [none\n"), 0o600)
	r = runDump(t, t.TempDir(), []string{"DUMP_CONFIG=" + bad}, "gather")
	if r.code != 2 || !strings.Contains(r.stderr, bad) {
		t.Fatalf("a broken config must be a usage error naming the file: %s", r)
	}
}
