package main

import (
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The secret corpus goes through the real pipeline (gather with redaction and
// leak scan, seal, upload, decrypt): not one planted value, nor its base64 or
// URL-encoded form, comes back; the context support needs does.
func TestNoPlantedSecretSurvivesTheRoundTrip(t *testing.T) {
	corpus := filepath.Join(repoRoot(t), "testdata", "secrets")
	var spec strings.Builder
	for _, dir := range []string{"kube", "nodes", "objects", "system", "systemd"} {
		spec.WriteString("- name: corpus-" + dir + "\n  category: " + dir + "\n  kind: copy\n  paths: [/" + dir + "]\n  output: " + dir + "\n")
	}
	identity, recipient := keygen(t)
	bucket := "file://" + t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", bucket, "--recipient", recipient, "--out", t.TempDir(),
		"--profile", "none", "--sysroot", corpus, "--spec", writeSpec(t, spec.String()))
	if r.code != 0 {
		t.Fatalf("gather-upload of the corpus: %s", r)
	}
	tree := decryptOK(t, bucket, identity, r.lastLine())
	all := concatTree(t, tree)

	planted := lines(t, filepath.Join(corpus, "planted.txt"))
	for _, p := range planted {
		for form, v := range map[string]string{
			"plain":     p,
			"base64":    base64.StdEncoding.EncodeToString([]byte(p)),
			"base64url": base64.RawURLEncoding.EncodeToString([]byte(p)),
			"url":       url.QueryEscape(p),
		} {
			if strings.Contains(all, v) {
				t.Errorf("planted secret %q leaked (%s form)", p, form)
			}
		}
	}
	// Files that hold only secrets are not copied at all; the manifest says so.
	secretOnly := []string{"nodes/node-alpha-01/aws/credentials", "nodes/node-alpha-01/gcp/service-account.json"}
	var onlyInSkipped string
	manifest := readFile(t, filepath.Join(tree, "manifest.json"))
	for _, f := range secretOnly {
		if _, err := os.Stat(filepath.Join(tree, f)); err == nil {
			t.Errorf("secret-only file %s was copied", f)
		}
		if !strings.Contains(manifest, strings.TrimPrefix(f, "nodes/")) {
			t.Errorf("the manifest does not say %s was skipped", f)
		}
		onlyInSkipped += readFile(t, filepath.Join(corpus, f))
	}
	survived := 0
	for _, c := range lines(t, filepath.Join(corpus, "context.txt")) {
		if strings.Contains(onlyInSkipped, c) && !strings.Contains(all, c) {
			continue // went with its secret-only file
		}
		if strings.Contains(all, c) {
			survived++
		} else {
			t.Errorf("context value %q was lost", c)
		}
	}
	if !strings.Contains(all, "[redacted:") {
		t.Fatalf("nothing was redacted at all")
	}
	t.Logf("%d planted secrets, 0 leaked; %d context values survived", len(planted), survived)
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(readFile(t, path), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// concatTree is every file of a tree, manifest and index included.
func concatTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		b.WriteByte('\n')
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dump redact DIR re-redacts an old tree in place.
func TestRedactCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nodes", "old", "teleport.yaml")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte("teleport:\n  auth_token: old-dump-token-Zk29fQ81\n  nodename: old\n"), 0o600)
	r := runDump(t, t.TempDir(), nil, "redact", dir)
	if r.code != 0 || r.lastLine() != dir {
		t.Fatalf("dump redact: %s", r)
	}
	got := readFile(t, cfg)
	if strings.Contains(got, "old-dump-token-Zk29fQ81") || !strings.Contains(got, "nodename: old") {
		t.Fatalf("after dump redact:\n%s", got)
	}
}

// --obfuscate replaces the host's identities one way; the map stays with the
// customer (0600, outside the dump).
func TestObfuscationMapStaysOutside(t *testing.T) {
	root := filepath.Join(repoRoot(t), "testdata", "fixtures", "teleport-node")
	hostname := strings.TrimSpace(readFile(t, filepath.Join(root, "etc", "hostname")))
	mapFile := filepath.Join(t.TempDir(), "map.json")
	out := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather", "--sysroot", root, "--profile", "teleport", "--out", out,
		"--obfuscate", "hostnames,ips", "--obfuscation-map", mapFile)
	if r.code != 0 && r.code != 3 {
		t.Fatalf("gather --obfuscate: %s", r)
	}
	tree := untar(t, r.lastLine())
	if all := concatTree(t, tree); strings.Contains(all, hostname) || !strings.Contains(all, "host-") {
		t.Fatalf("the host name %q is still in the dump, or nothing was obfuscated", hostname)
	}
	fi, err := os.Stat(mapFile)
	if err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(readFile(t, mapFile), hostname) {
		t.Fatalf("obfuscation map missing, not 0600, or without %q: %v", hostname, err)
	}
	if strings.Contains(treeDigest(t, tree), filepath.Base(mapFile)) {
		t.Fatalf("the map went into the dump")
	}
}
