package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/dumptool/dump/crypto"
)

// The retry command is pasted into a shell as printed: a path with a space or
// a quote must stay one argument.
func TestRetryCommandSurvivesTheShell(t *testing.T) {
	for _, s := range []string{"/var/tmp/dump-outbox/dump-x.tar.zst.age", "/home/a b/it's.age", "", "s3://b/p"} {
		out, err := exec.Command("sh", "-c", `printf %s `+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) = %s: the shell read %q (%v)", s, shellQuote(s), out, err)
		}
	}
	if got := shellQuote("file:///tmp/bucket"); got != "file:///tmp/bucket" {
		t.Errorf("a plain URL was quoted: %s", got)
	}
}

// dump upload refuses a payload cut short after sealing, before anything is sent.
func TestUploadRefusesACutPayload(t *testing.T) {
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "a.txt"), []byte(strings.Repeat("x", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := crypto.Seal(context.Background(), tree, crypto.SealOptions{Recipients: []age.Recipient{id.Recipient()}, IncludeKey: true, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sealedParts(sealed.PayloadPath); err != nil {
		t.Fatalf("a sound sealed dump was refused: %v", err)
	}
	if err := os.Truncate(sealed.PayloadPath, sealed.Info.PayloadSize-1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sealedParts(sealed.PayloadPath); err == nil || !strings.Contains(err.Error(), "cut or altered") {
		t.Fatalf("a cut payload was accepted for upload: %v", err)
	}
}
