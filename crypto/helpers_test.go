package crypto

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"filippo.io/age"
)

// testTree is a source directory and what a correct archive of it holds.
type testTree struct {
	dir   string
	files map[string][]byte // slash path relative to dir -> content
	dirs  []string          // slash paths relative to dir
}

// makeTree builds nested directories, empty files and dirs, a name longer
// than ustar allows, a 20 MB file of random and text data, and entries that
// must be skipped: a symlink out of the tree, a symlink to a directory and a fifo.
func makeTree(t testing.TB) testTree {
	t.Helper()
	dir := t.TempDir()
	tr := testTree{dir: dir, files: map[string][]byte{}}
	long := strings.Repeat("long-name-", 12) + ".txt"
	files := map[string][]byte{
		"manifest.json":                  []byte(`{"schema":1}` + "\n"),
		"empty.txt":                      nil,
		"system/uname.txt":               []byte("Linux host 6.1.0 x86_64\n"),
		"system/ps.txt.error":            []byte("ps: permission denied\n"),
		"nodes/host-1/teleport.yaml":     []byte("teleport:\n  nodename: host-1\n"),
		"nodes/host-1/deep/er/still.txt": []byte("deep\n"),
		"nodes/host-1/deep/" + long:      []byte("long name\n"),
		"systemd/host-1/k3s/log.txt":     bigContent(20 << 20),
		"unicode-é-名前.txt":               []byte("utf-8 names\n"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tr.files[name] = data
	}
	if err := os.MkdirAll(filepath.Join(dir, "objects", "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret-outside")
	if err := os.WriteFile(outside, []byte("must not be packed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "system", "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(dir, "system", "fifo")); err != nil {
		t.Logf("no fifo in the tree: %v", err)
	}
	tr.dirs = []string{"nodes", "nodes/host-1", "nodes/host-1/deep", "nodes/host-1/deep/er",
		"objects", "objects/empty-dir", "system", "systemd", "systemd/host-1", "systemd/host-1/k3s"}
	return tr
}

// bigContent is deterministic, half incompressible random bytes and half log text.
func bigContent(n int) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	var b bytes.Buffer
	b.Grow(n)
	chunk := make([]byte, 64<<10)
	for i := 0; b.Len() < n; i++ {
		if i%2 == 0 {
			for j := range chunk {
				chunk[j] = byte(rng.Uint32())
			}
			b.Write(chunk)
			continue
		}
		for start := b.Len(); b.Len()-start < len(chunk); {
			fmt.Fprintf(&b, "2025-11-21T05:%02d:%02d.%06dZ level=info msg=\"request done\" id=%08x\n",
				rng.IntN(60), rng.IntN(60), rng.IntN(1e6), rng.Uint32())
		}
	}
	return b.Bytes()[:n]
}

// archive is what a tar stream held.
type archive struct {
	files map[string][]byte
	dirs  []string
	order []string
}

// readTar reads a whole tar stream and checks the header rules every member
// must follow: 0600/0700 modes, uid/gid 0, no user names, only files and dirs.
func readTar(t testing.TB, r io.Reader) (archive, error) {
	t.Helper()
	a := archive{files: map[string][]byte{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return a, err
		}
		a.order = append(a.order, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 and no names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if h.Mode != 0o700 {
				t.Errorf("%s: mode %o, want 700", h.Name, h.Mode)
			}
			a.dirs = append(a.dirs, strings.TrimSuffix(h.Name, "/"))
		case tar.TypeReg:
			if h.Mode != 0o600 {
				t.Errorf("%s: mode %o, want 600", h.Name, h.Mode)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return a, err
			}
			a.files[h.Name] = data
		default:
			t.Errorf("%s: unexpected member type %q", h.Name, h.Typeflag)
		}
	}
}

// checkArchive compares an archive with the tree it was packed from.
func checkArchive(t testing.TB, a archive, tr testTree, prefix string) {
	t.Helper()
	if len(a.files) != len(tr.files) {
		t.Errorf("archive has %d files, tree has %d: %v", len(a.files), len(tr.files), a.order)
	}
	for name, want := range tr.files {
		got, ok := a.files[prefix+name]
		if !ok {
			t.Errorf("%s missing from archive", prefix+name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%d bytes, want %d)", name, len(got), len(want))
		}
	}
	wantDirs := append([]string{}, tr.dirs...)
	if prefix != "" {
		wantDirs = append(wantDirs, "")
	}
	for i := range wantDirs {
		wantDirs[i] = strings.TrimSuffix(prefix+wantDirs[i], "/")
	}
	sort.Strings(wantDirs)
	gotDirs := append([]string{}, a.dirs...)
	sort.Strings(gotDirs)
	if strings.Join(gotDirs, ",") != strings.Join(wantDirs, ",") {
		t.Errorf("dirs = %v, want %v", gotDirs, wantDirs)
	}
	if !sort.StringsAreSorted(a.order) {
		t.Errorf("members are not in sorted order: %v", a.order)
	}
}

// requireTool returns the path of a CLI the test needs. Without it the test
// is skipped on a workstation but fails in CI, where it must be installed.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; CI must provide it (apt-get install -y age zstd tar openssh-client bsdutils)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// run runs a command and returns its stdout, failing the test on error.
func run(t testing.TB, dir string, stdin io.Reader, name string, args ...string) []byte {
	t.Helper()
	out, err := tryRun(dir, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func tryRun(dir string, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// newSupportIdentity makes an X25519 support identity file and its recipient.
func newSupportIdentity(t testing.TB) (path string, id age.Identity, rec age.Recipient) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "support.key")
	line, err := WriteKeyFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err = ParseRecipient(line)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadIdentities(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return path, ids[0], rec
}

func fileMode(t testing.TB, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// dirNames lists a directory, to check what a failed seal left behind.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// runEnv runs a command with extra environment variables and returns its
// combined output.
func runEnv(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// openKeyFile opens a sealed key file with a support identity.
func openKeyFile(t *testing.T, path string, id age.Identity) *age.X25519Identity {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	session, err := OpenKey(f, id)
	if err != nil {
		t.Fatal(err)
	}
	return session
}
