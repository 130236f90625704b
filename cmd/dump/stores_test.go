package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A read-only command on a mistyped file:// store says the store does not
// exist, in one line, exits 2, and creates nothing.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	identity, _ := keygen(t)
	typo := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"list", "--from", "file://" + typo},
		{"decrypt", "--from", "file://" + typo, "--identity", identity, "--out", t.TempDir(), "0b5e"},
	} {
		r := runDump(t, t.TempDir(), nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "file://"+typo+" does not exist") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s on a missing store: want exit 2 and one line saying it does not exist: %s", args[0], r)
		}
		if _, err := os.Stat(typo); !os.IsNotExist(err) {
			t.Fatalf("%s created the store it only reads: %v", args[0], err)
		}
	}
}

// A destination whose parent is missing (a share that is not mounted) is
// refused before gathering, nothing is written to the local disk under the
// mount point, and --create makes it.
func TestUnmountedShareRefusedBeforeGathering(t *testing.T) {
	identity, recipient := keygen(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	share := "file://" + filepath.Join(mnt, "share")
	outbox := filepath.Join(t.TempDir(), "outbox")
	r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", share, "--recipient", recipient,
		"--out", outbox, "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 2 || !strings.Contains(r.stderr, mnt+" does not exist") || !strings.Contains(r.stderr, "--create") {
		t.Fatalf("want exit 2 naming the missing parent and --create: %s", r)
	}
	for _, p := range []string{mnt, outbox} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s was made although the destination was refused: %v", p, err)
		}
	}
	r = runDump(t, t.TempDir(), nil, "gather-upload", "--to", share, "--create", "--recipient", recipient,
		"--out", outbox, "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload --create: %s", r)
	}
	decryptOK(t, share, identity, r.lastLine())
}

// A FIFO where key.age belongs in a file:// bucket does not hang list or
// decrypt: it is not an object.
func TestFIFOInBucketDoesNotHang(t *testing.T) {
	identity, recipient := keygen(t)
	bucket := t.TempDir()
	r := runDump(t, t.TempDir(), nil, "gather-upload", "--to", "file://"+bucket, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload: %s", r)
	}
	id := r.lastLine()
	key := filepath.Join(bucket, id, "key.age")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r = runDump(t, t.TempDir(), nil, "list", "--from", "file://"+bucket)
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Fatalf("list with a FIFO in the bucket: %s", r)
	}
	r = runDump(t, t.TempDir(), nil, "decrypt", "--from", "file://"+bucket, "--identity", identity, "--out", t.TempDir(), id)
	if r.code == 0 || !strings.Contains(r.stderr, "key.age") {
		t.Fatalf("decrypt with a FIFO key.age: want a failure naming key.age: %s", r)
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("list and decrypt took %v", d)
	}
}
