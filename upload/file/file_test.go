package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/file"
	"github.com/dumptool/dump/upload/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) upload.Store {
		s, err := file.New(filepath.Join(t.TempDir(), "bucket"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{})
}

func TestModesAndNames(t *testing.T) {
	root := filepath.Join(t.TempDir(), "bucket")
	s, err := file.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "u/info.json", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{root: 0o700, filepath.Join(root, "u"): 0o700, filepath.Join(root, "u", "info.json"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	for _, bad := range []string{"../escape", "/abs", "u/../../x", "u/.tmp-x", ""} {
		if err := s.Put(ctx, bad, strings.NewReader("")); err == nil {
			t.Errorf("Put(%q) accepted a name outside the store", bad)
		}
	}
}

// Opening a store to read creates nothing: a mistyped path is an error that
// says so, and the directory is not made.
func TestOpenCreatesNothing(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "typo")
	_, err := file.Open(typo)
	if !errors.Is(err, upload.ErrNotExist) || !strings.Contains(err.Error(), "file://"+typo+" does not exist") {
		t.Fatalf("Open of a missing directory: %v", err)
	}
	if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open made the directory: %v", err)
	}
}

// A destination is made when missing, but only inside a directory that
// exists: an unmounted share is refused, not filled from the local disk.
func TestCreateNeedsTheParent(t *testing.T) {
	share := filepath.Join(t.TempDir(), "mnt", "share")
	_, err := file.Create(filepath.Join(share, "dumps"))
	if !errors.Is(err, upload.ErrNotExist) || !strings.Contains(err.Error(), share+" does not exist") {
		t.Fatalf("Create under a missing parent: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(share)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Create made the missing parents: %v", err)
	}
	if err := os.MkdirAll(share, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := file.Create(filepath.Join(share, "dumps")); err != nil {
		t.Fatalf("Create in an existing parent: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(share, "dumps")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the store directory is %v, %v; want 0700", fi, err)
	}
}

// A FIFO planted in a bucket where key.age belongs is not an object: Get
// says so at once instead of blocking in open(2) forever, and List skips it.
func TestFIFOIsNotAnObject(t *testing.T) {
	root := t.TempDir()
	s, err := file.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "u"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "u", "key.age"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		rc, err := s.Get(ctx, "u/key.age")
		if err == nil {
			rc.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Get of a FIFO: %v, want not a regular file", err)
		}
	case <-ctx.Done():
		t.Fatal("Get of a FIFO blocked")
	}
	if objs, err := s.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Fatalf("List shows the FIFO: %v, %v", objs, err)
	}
}
