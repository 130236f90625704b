package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/dumptool/dump/crypto"
)

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
