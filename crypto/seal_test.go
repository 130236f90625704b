package crypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/dumptool/dump/internal/layout"
)

const testUUID = "0b7e3f2a-5c1d-4e8f-9a6b-1c2d3e4f5a6b"

// sealTree seals a fresh test tree to one new X25519 support identity.
func sealTree(t *testing.T, includeKey bool) (testTree, *Sealed, age.Identity) {
	t.Helper()
	tr := makeTree(t)
	_, id, rec := newSupportIdentity(t)
	s, err := Seal(context.Background(), tr.dir, SealOptions{
		UUID:        testUUID,
		Recipients:  []age.Recipient{rec},
		IncludeKey:  includeKey,
		OutDir:      t.TempDir(),
		ToolVersion: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr, s, id
}

// openAll opens a payload and reads it as a caller would: the tar stream to
// its end marker, then Close. It returns the first error of either.
func openAll(t *testing.T, payload io.Reader, session age.Identity) (archive, error) {
	t.Helper()
	rc, err := OpenPayload(payload, session)
	if err != nil {
		return archive{}, err
	}
	a, err := readTar(t, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return a, err
}

func TestSealRoundTrip(t *testing.T) {
	tr, s, id := sealTree(t, true)
	want := layout.LocalFiles(filepath.Dir(s.PayloadPath), testUUID)
	for path, name := range map[string]string{s.PayloadPath: want.Payload, s.KeyPath: want.Key, s.InfoPath: want.Info} {
		if path != name {
			t.Errorf("file %s, want name %s", path, name)
		}
		if m := fileMode(t, path); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", path, m)
		}
	}
	if names := dirNames(t, filepath.Dir(s.PayloadPath)); len(names) != 3 {
		t.Errorf("output dir holds %v, want the three sealed files only", names)
	}

	session := openKeyFile(t, s.KeyPath, id)
	if session.String() != s.SessionKey {
		t.Error("key file does not hold the session key")
	}
	pf, err := os.Open(s.PayloadPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	a, err := openAll(t, pf, session)
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, a, tr, "dump-"+testUUID+"/")
}

func TestSealInfo(t *testing.T) {
	tr, s, _ := sealTree(t, true)
	info, err := layout.ReadInfoFile(s.InfoPath)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(s.PayloadPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	var content int64
	for _, d := range tr.files {
		content += int64(len(d))
	}
	switch {
	case info.Schema != 1, info.UUID != testUUID, info.ToolVersion != "test", info.Parts != 1:
		t.Errorf("info header fields wrong: %+v", info)
	case info.PayloadSize != int64(len(payload)), info.PayloadSHA256 != hex.EncodeToString(sum[:]):
		t.Errorf("payload size/sha256 = %d/%s, want %d/%x", info.PayloadSize, info.PayloadSHA256, len(payload), sum)
	case !info.KeyIncluded, info.Compression != "zstd", info.Encryption != "age":
		t.Errorf("info flags wrong: %+v", info)
	case info.Files != len(tr.files), info.ContentBytes != content:
		t.Errorf("files/content = %d/%d, want %d/%d", info.Files, info.ContentBytes, len(tr.files), content)
	case len(info.Recipients) != 1 || !strings.HasPrefix(info.Recipients[0], "age1") || !strings.Contains(info.Recipients[0], "…"):
		t.Errorf("recipients = %q, want one shortened age1 fingerprint", info.Recipients)
	case info.Created.IsZero() || info.Created.Location().String() != "UTC":
		t.Errorf("created = %v", info.Created)
	}
	if !reflect.DeepEqual(info, s.Info) {
		t.Errorf("Sealed.Info %+v differs from the file %+v", s.Info, info)
	}
	raw, _ := os.ReadFile(s.InfoPath)
	if !bytes.Contains(raw, []byte(`"created": "`+info.Created.Format("2006-01-02T15:04:05Z")+`"`)) {
		t.Errorf("created is not RFC 3339 UTC in %s", raw)
	}
}

func TestSealNometa(t *testing.T) {
	tr, s, _ := sealTree(t, false)
	if s.KeyPath != "" {
		t.Errorf("KeyPath = %q in nometa mode", s.KeyPath)
	}
	dir := filepath.Dir(s.PayloadPath)
	names := dirNames(t, dir)
	if len(names) != 2 {
		t.Errorf("nometa output dir holds %v, want payload and info only", names)
	}
	for _, n := range names {
		data, _ := os.ReadFile(filepath.Join(dir, n))
		if bytes.Contains(data, []byte(s.SessionKey)) {
			t.Errorf("%s contains the plaintext session key", n)
		}
	}
	if s.Info.KeyIncluded {
		t.Error("info says key_included in nometa mode")
	}
	for _, given := range []string{s.SessionKey, "key=" + s.SessionKey + "\n"} {
		session, err := ParseSessionKey(given)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := os.Open(s.PayloadPath)
		if err != nil {
			t.Fatal(err)
		}
		a, err := openAll(t, pf, session)
		pf.Close()
		if err != nil {
			t.Fatal(err)
		}
		checkArchive(t, a, tr, "dump-"+testUUID+"/")
	}
}

func TestParseSessionKeyRejectsGarbage(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	cut := id.String()[:40]
	_, err := ParseSessionKey(cut)
	if err == nil {
		t.Fatal("a cut session key parsed")
	}
	if strings.Contains(err.Error(), cut) {
		t.Error("the error echoes the key")
	}
}

func TestSealNeedsRecipient(t *testing.T) {
	out := t.TempDir()
	_, err := Seal(context.Background(), t.TempDir(), SealOptions{IncludeKey: true, OutDir: out})
	if err == nil || !strings.Contains(err.Error(), "--recipient") {
		t.Errorf("err = %v, want a hint to pass --recipient", err)
	}
	if names := dirNames(t, out); len(names) != 0 {
		t.Errorf("files left: %v", names)
	}
}

func TestSealFailureLeavesNothing(t *testing.T) {
	tr := makeTree(t)
	_, _, rec := newSupportIdentity(t)

	t.Run("cancelled", func(t *testing.T) {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := Seal(ctx, tr.dir, SealOptions{
			UUID: testUUID, Recipients: []age.Recipient{rec}, IncludeKey: true, OutDir: out,
			Pack: PackOptions{Progress: func(n int64) {
				if n > 5<<20 {
					cancel()
				}
			}},
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("a cancelled seal left %v", names)
		}
	})

	t.Run("name taken", func(t *testing.T) {
		out := t.TempDir()
		if err := os.WriteFile(layout.LocalFiles(out, testUUID).Info, []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Seal(context.Background(), tr.dir, SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec}, IncludeKey: true, OutDir: out})
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("err = %v, want already exists", err)
		}
		if names := dirNames(t, out); len(names) != 1 {
			t.Errorf("left %v, want only the existing file", names)
		}
	})

	t.Run("key encryption fails", func(t *testing.T) {
		// The payload is complete by then; its temporary file must go too.
		out := t.TempDir()
		_, err := Seal(context.Background(), tr.dir, SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec, failingRecipient{}}, IncludeKey: true, OutDir: out})
		if err == nil || !strings.Contains(err.Error(), "recipient offline") {
			t.Fatalf("err = %v, want the recipient's error", err)
		}
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("a failed seal left %v", names)
		}
	})

	t.Run("source missing", func(t *testing.T) {
		out := t.TempDir()
		_, err := Seal(context.Background(), filepath.Join(tr.dir, "nope"), SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec}, IncludeKey: true, OutDir: out})
		if err == nil {
			t.Fatal("sealing a missing directory succeeded")
		}
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("a failed seal left %v", names)
		}
	})

	t.Run("out dir not writable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Log("running as root, which can write to a 0500 directory; see the subtest key encryption fails")
			return
		}
		out := t.TempDir()
		if err := os.Chmod(out, 0o500); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(out, 0o700)
		if _, err := Seal(context.Background(), tr.dir, SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec}, IncludeKey: true, OutDir: out}); err == nil {
			t.Fatal("sealing into a read-only directory succeeded")
		}
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("a failed seal left %v", names)
		}
	})
}

func TestSealRejectsBadUUID(t *testing.T) {
	_, err := Seal(context.Background(), t.TempDir(), SealOptions{UUID: "../../etc/x", OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "invalid uuid") {
		t.Errorf("err = %v, want invalid uuid", err)
	}
}

func TestSealNewUUID(t *testing.T) {
	s, err := Seal(context.Background(), t.TempDir(), SealOptions{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if layout.CheckUUID(s.Info.UUID) != nil || !strings.Contains(s.PayloadPath, s.Info.UUID) {
		t.Errorf("uuid %q, payload %s", s.Info.UUID, s.PayloadPath)
	}
}

func TestSealRefusesOutDirInsideTree(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o600)
	for _, out := range []string{src, filepath.Join(src, "sub")} {
		os.MkdirAll(out, 0o700)
		_, err := Seal(context.Background(), src, SealOptions{OutDir: out})
		if err == nil || !strings.Contains(err.Error(), "inside") {
			t.Errorf("OutDir %s: err = %v, want a refusal", out, err)
		}
		_, err = PackFile(context.Background(), src, filepath.Join(out, "x.tar.zst"), PackOptions{})
		if err == nil || !strings.Contains(err.Error(), "inside") {
			t.Errorf("PackFile into %s: err = %v, want a refusal", out, err)
		}
	}
	// A sibling whose name starts like the tree is fine.
	if _, err := Seal(context.Background(), src, SealOptions{OutDir: mkdir(t, src+"-out")}); err != nil {
		t.Errorf("sibling output dir: %v", err)
	}
}

func mkdir(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p) })
	return p
}

type failingRecipient struct{}

func (failingRecipient) Wrap([]byte) ([]*age.Stanza, error) {
	return nil, errors.New("recipient offline")
}
