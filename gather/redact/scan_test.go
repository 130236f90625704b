package redact

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testPEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDkq0cLzXbbO2PLTXQ0YkJ1yM8RmPkh4VZ9l0uKkVQo3wAAAJjFZJvlxWSb\n-----END OPENSSH PRIVATE KEY-----\n"
	testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib3QtOTkiLCJleHAiOjE5MDAwMDAwMDB9.kP3xq2mB7dR8sW1vN4yT6uZ0aC5eF9gH2jL7oQ3rS8t"
	testAWS = "AKIAZ7Q3LKXW4M2PB9TN"
)

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Scan finds and fixes secrets written into the tree without going through Stream.
func TestScanFixesLeaks(t *testing.T) {
	r := mustNew(t, Options{})
	// A value replaced earlier in the run.
	out, _ := r.Bytes([]byte("password: Earlier-Replaced-Value-42\n"), "nodes/n1/app.yaml")
	if strings.Contains(string(out), "Earlier-Replaced-Value-42") {
		t.Fatal("setup: value not redacted")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "clean.txt"), "nothing to see here\n")
	writeFile(t, filepath.Join(dir, "a/key.txt"), "debug dump:\n"+testPEM+"done\n")
	writeFile(t, filepath.Join(dir, "a/jwt.log"), "got "+testJWT+" from client\n")
	writeFile(t, filepath.Join(dir, "b/aws.txt"), "id "+testAWS+" in use\n")
	writeFile(t, filepath.Join(dir, "b/copy.txt"), "copied value Earlier-Replaced-Value-42 here\n"+
		"and encoded "+base64.StdEncoding.EncodeToString([]byte("Earlier-Replaced-Value-42"))+"\n")

	rep, err := r.Scan(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FilesScanned != 5 {
		t.Errorf("scanned %d files, want 5", rep.FilesScanned)
	}
	kinds := map[string]bool{}
	for _, l := range rep.Fixed {
		kinds[l.File+":"+l.Kind] = true
	}
	for _, want := range []string{"a/key.txt:private_key", "a/jwt.log:jwt", "b/aws.txt:aws_key", "b/copy.txt:password"} {
		if !kinds[want] {
			t.Errorf("scan did not report %s; got %v", want, rep.Fixed)
		}
	}
	tree := readTree(t, dir)
	for name, body := range tree {
		for _, s := range []string{"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", "PRIVATE KEY", testJWT, testAWS,
			"Earlier-Replaced-Value-42", base64.StdEncoding.EncodeToString([]byte("Earlier-Replaced-Value-42"))} {
			if strings.Contains(body, s) {
				t.Errorf("%s still contains %q after Scan:\n%s", name, s, body)
			}
		}
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v after Scan, want 0600", name, fi.Mode().Perm())
		}
	}
	if tree["clean.txt"] != "nothing to see here\n" || !strings.Contains(tree["a/jwt.log"], "from client") {
		t.Errorf("Scan changed text that is not secret: %q", tree)
	}
	// A second scan finds nothing: our own tokens are not leaks.
	rep, err = r.Scan(context.Background(), dir)
	if err != nil || len(rep.Fixed) != 0 {
		t.Errorf("second scan: err %v, fixed %v; want a clean tree", err, rep.Fixed)
	}
}

// A hit that cannot be fixed stops the run before sealing.
func TestScanFailsClosed(t *testing.T) {
	r := mustNew(t, Options{})
	t.Run("name too long to rewrite", func(t *testing.T) {
		dir := t.TempDir()
		name := strings.Repeat("n", 250) // the temp file for the rewrite cannot be named
		writeFile(t, filepath.Join(dir, name), "token "+testJWT+"\n")
		_, err := r.Scan(context.Background(), dir)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "jwt") {
			t.Fatalf("Scan error = %v; want a failure naming the file and kind", err)
		}
	})
	t.Run("unwritable file", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "locked.txt")
		writeFile(t, p, "key id "+testAWS+"\n")
		if os.Geteuid() == 0 {
			// root ignores permissions: make the file immutable instead.
			if err := exec.Command("chattr", "+i", p).Run(); err != nil {
				t.Skip("running as root without chattr +i support")
			}
			t.Cleanup(func() { exec.Command("chattr", "-i", p).Run() })
		} else {
			os.Chmod(dir, 0o500)
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
		}
		_, err := r.Scan(context.Background(), dir)
		if err == nil || !strings.Contains(err.Error(), "locked.txt") || !strings.Contains(err.Error(), "aws_key") {
			t.Fatalf("Scan error = %v; want a failure naming locked.txt and aws_key", err)
		}
		if b, _ := os.ReadFile(p); !strings.Contains(string(b), testAWS) {
			t.Fatal("setup: the file was rewritten after all")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		os.Symlink("/etc/hostname", filepath.Join(dir, "link"))
		if _, err := r.Scan(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "link") {
			t.Fatalf("Scan error = %v; want a failure for a file it cannot check", err)
		}
	})
}
