package file_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if err := s.Put(ctx, "u/info.json", strings.NewReader(""), 0); err != nil {
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
		if err := s.Put(ctx, bad, strings.NewReader(""), 0); err == nil {
			t.Errorf("Put(%q) accepted a name outside the store", bad)
		}
	}
}
