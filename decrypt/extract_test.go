package decrypt

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const prefix = "dump-x/"

// member is one tar entry of a hand-made archive.
type member struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) member {
	return member{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body}
}

func dir(name string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func link(typ byte, name, target string) member {
	return member{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}}
}

func special(typ byte, name string) member {
	return member{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o666, Devmajor: 1, Devminor: 3}}
}

func makeTar(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := m.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot records every path under root (except skip) with its type, mode,
// link target and content hash, so that any write outside the target shows.
func snapshot(t *testing.T, root, skip string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		snap[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// sandbox is base/{sentinel/secret, out/deep/}: the target is
// base/out/deep/target, so "../" and "../../" from it land in watched places.
func sandbox(t *testing.T) (base, target string) {
	base = t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "sentinel"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "sentinel", "secret"), []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "out", "deep"), 0o700); err != nil {
		t.Fatal(err)
	}
	return base, filepath.Join(base, "out", "deep", "target")
}

func noPartial(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".partial-") {
			t.Errorf("partial directory left behind: %s", filepath.Join(dir, e.Name()))
		}
	}
}

func TestExtractHostile(t *testing.T) {
	ok := reg(prefix+"ok.txt", "fine")
	cases := []struct {
		name    string
		members func(base string) []member
		skipped func(base string) []string // exactly the members reported skipped
		written func(base string) []string // regular files besides ok.txt, relative to the target
	}{
		{"traversal", func(string) []member {
			return []member{reg("../evil", "x"), reg(prefix+"../evil", "x"), reg(prefix+"a/../../../evil", "x"), reg(prefix+"..", "x")}
		}, names("../evil", prefix+"../evil", prefix+"a/../../../evil", prefix+".."), names()},
		{"absolute", func(base string) []member {
			return []member{reg(base+"/abs-evil", "x"), reg("/"+prefix+"abs", "x")}
		}, func(base string) []string { return []string{base + "/abs-evil", "/" + prefix + "abs"} }, names()},
		{"symlink to / then a file through it", func(base string) []member {
			return []member{link(tar.TypeSymlink, prefix+"link", "/"), reg(prefix+"link"+base+"/evil", "x")}
		}, names(prefix + "link"), func(base string) []string { return []string{"link" + base + "/evil"} }},
		{"symlink to ../../ then a file through it", func(string) []member {
			return []member{link(tar.TypeSymlink, prefix+"up", "../../"), reg(prefix+"up/evil", "x"), link(tar.TypeSymlink, prefix+"up2", "../../../.."), reg(prefix+"up2/out/evil", "x")}
		}, names(prefix+"up", prefix+"up2"), names("up/evil", "up2/out/evil")},
		{"symlink then overwrite through it", func(base string) []member {
			return []member{link(tar.TypeSymlink, prefix+"s", base+"/sentinel/secret"), reg(prefix+"s", "overwritten")}
		}, names(prefix + "s"), names("s")},
		{"hardlink escape then overwrite", func(base string) []member {
			return []member{
				link(tar.TypeLink, prefix+"hl", base+"/sentinel/secret"), reg(prefix+"hl", "overwritten"),
				link(tar.TypeLink, prefix+"hl2", "../../../sentinel/secret"), reg(prefix+"hl2", "overwritten"),
			}
		}, names(prefix+"hl", prefix+"hl2"), names("hl", "hl2")},
		{"hardlink inside the tree", func(string) []member {
			return []member{link(tar.TypeLink, prefix+"copy", prefix+"ok.txt")}
		}, names(prefix + "copy"), names()},
		{"devices and fifo", func(string) []member {
			return []member{special(tar.TypeChar, prefix+"null"), special(tar.TypeBlock, prefix+"sda"), special(tar.TypeFifo, prefix+"fifo")}
		}, names(prefix+"null", prefix+"sda", prefix+"fifo"), names()},
		{"outside the prefix", func(string) []member {
			return []member{reg("other/file", "x"), reg("dump-y/file", "x"), reg("dump-x-evil/file", "x"), reg("top", "x")}
		}, names("other/file", "dump-y/file", "dump-x-evil/file", "top"), names()},
		{"duplicate file", func(string) []member {
			return []member{reg(prefix+"ok.txt", "replaced")}
		}, names(prefix + "ok.txt"), names()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, target := sandbox(t)
			before := snapshot(t, base, target)
			members := append([]member{dir(prefix), ok}, tc.members(base)...)
			st, err := Extract(context.Background(), bytes.NewReader(makeTar(t, members...)), target, prefix, Limits{})

			if after := snapshot(t, base, target); !equalMaps(before, after) {
				t.Fatalf("something outside the target changed:\nbefore %v\nafter  %v", before, after)
			}
			noPartial(t, filepath.Dir(target))
			if err != nil {
				if _, serr := os.Lstat(target); serr == nil {
					t.Fatalf("extract failed (%v) but left %s", err, target)
				}
				return
			}
			skipped := tc.skipped(base)
			for _, name := range skipped {
				if !hasSkip(st.SkipSample, name) {
					t.Errorf("member %q not reported skipped; skipped: %q", name, st.SkipSample)
				}
			}
			if st.Skipped != len(skipped) || len(st.SkipSample) != len(skipped) {
				t.Errorf("skipped %d: %q, want exactly %q", st.Skipped, st.SkipSample, skipped)
			}
			// Only regular files and directories, and only the expected files.
			allowed := map[string]bool{filepath.Join(target, "ok.txt"): true}
			for _, w := range tc.written(base) {
				allowed[filepath.Join(target, filepath.FromSlash(w))] = true
			}
			err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && !d.Type().IsRegular() {
					t.Errorf("extract created %s of type %v", p, d.Type())
				}
				if d.Type().IsRegular() && !allowed[p] {
					t.Errorf("extract created unexpected file %s", p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if data, err := os.ReadFile(filepath.Join(target, "ok.txt")); err != nil || string(data) != "fine" {
				t.Errorf("ok.txt = %q, %v", data, err)
			}
		})
	}
}

func names(n ...string) func(string) []string {
	return func(string) []string { return n }
}

func hasSkip(skipped []string, name string) bool {
	for _, s := range skipped {
		if strings.HasPrefix(s, name+": ") {
			return true
		}
	}
	return false
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestExtractModesAndNames(t *testing.T) {
	_, target := sandbox(t)
	data := makeTar(t, dir("dump-x/"), dir("dump-x/sub/"), reg("dump-x/sub/a.txt", "A"),
		reg("dump-x/deep/er/b.txt", "B"), reg(`dump-x/systemd/dev-disk-by\x2duuid.service/log.txt`, "C"),
		reg("dump-x/./c//d.txt", "D"))
	st, err := Extract(context.Background(), bytes.NewReader(data), target, "dump-x", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 4 || st.Bytes != 4 || st.Skipped != 0 {
		t.Errorf("stats = %+v, want 4 files, 4 bytes, nothing skipped", st)
	}
	want := map[string]string{"sub/a.txt": "A", "deep/er/b.txt": "B", `systemd/dev-disk-by\x2duuid.service/log.txt`: "C", "c/d.txt": "D"}
	for name, body := range want {
		p := filepath.Join(target, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != body {
			t.Errorf("%s = %q, %v; want %q", name, got, err, body)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	for _, d := range []string{".", "sub", "deep", "deep/er", "c"} {
		if fi, err := os.Stat(filepath.Join(target, d)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("dir %s: %v, %v; want mode 0700", d, fi.Mode(), err)
		}
	}
}

func TestExtractLimits(t *testing.T) {
	big := strings.Repeat("x", 80)
	cases := []struct {
		name   string
		tar    func(t *testing.T) []byte
		limits Limits
	}{
		{"too many files", func(t *testing.T) []byte {
			var ms []member
			for i := range 6 {
				ms = append(ms, reg(fmt.Sprintf("dump-x/f%d", i), "x"))
			}
			return makeTar(t, ms...)
		}, Limits{MaxFiles: 5}},
		{"too many bytes", func(t *testing.T) []byte {
			return makeTar(t, reg("dump-x/a", big), reg("dump-x/b", big))
		}, Limits{MaxBytes: 100}},
		{"too many skipped members", func(t *testing.T) []byte {
			var ms []member
			for i := range 6 {
				ms = append(ms, link(tar.TypeSymlink, fmt.Sprintf("dump-x/l%d", i), "/"))
			}
			return makeTar(t, ms...)
		}, Limits{MaxFiles: 5}},
		{"member larger than the budget is refused before its data is read", func(t *testing.T) []byte {
			// The header claims 1 GiB but no data follows: only a check made
			// before reading reports the limit rather than a short read.
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "dump-x/huge", Mode: 0o600, Size: 1 << 30}); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}, Limits{MaxBytes: 1 << 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, target := sandbox(t)
			_, err := Extract(context.Background(), bytes.NewReader(tc.tar(t)), target, prefix, tc.limits)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("target left behind after a limit error: %v", err)
			}
			noPartial(t, filepath.Dir(target))
		})
	}
}

func TestExtractTruncatedTar(t *testing.T) {
	data := makeTar(t, reg("dump-x/a", strings.Repeat("a", 5000)), reg("dump-x/b", strings.Repeat("b", 5000)))
	for _, cut := range []int{len(data) / 2, 512 + 5120 + 100} {
		_, target := sandbox(t)
		_, err := Extract(context.Background(), bytes.NewReader(data[:cut]), target, prefix, Limits{})
		if err == nil {
			t.Fatalf("cut at %d: extract succeeded", cut)
		}
		if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cut at %d: target left behind: %v", cut, err)
		}
		noPartial(t, filepath.Dir(target))
	}
}

// A reader that fails after the tar end marker (as a payload whose last
// chunk fails authentication does) must fail the extraction.
func TestExtractFailsOnLateReadError(t *testing.T) {
	_, target := sandbox(t)
	data := makeTar(t, reg("dump-x/a", "a"))
	late := errors.New("authentication failed at the end")
	r := io.MultiReader(bytes.NewReader(data), errReader{late})
	_, err := Extract(context.Background(), r, target, prefix, Limits{})
	if !errors.Is(err, late) {
		t.Fatalf("err = %v, want the late read error", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target left behind: %v", err)
	}
	noPartial(t, filepath.Dir(target))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestExtractRefusesExistingTarget(t *testing.T) {
	_, target := sandbox(t)
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "mine"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Extract(context.Background(), bytes.NewReader(makeTar(t, reg("dump-x/mine", "new"))), target, prefix, Limits{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want an 'already exists' error", err)
	}
	if data, _ := os.ReadFile(filepath.Join(target, "mine")); string(data) != "keep" {
		t.Errorf("existing file changed to %q", data)
	}
}

func TestExtractCancelled(t *testing.T) {
	_, target := sandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Extract(ctx, bytes.NewReader(makeTar(t, reg("dump-x/a", "a"))), target, prefix, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target left behind: %v", err)
	}
}
