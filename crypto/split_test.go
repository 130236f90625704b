package crypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/dumptool/dump/internal/layout"
)

// concat reads files in order as one byte slice.
func concat(t *testing.T, paths []string) []byte {
	t.Helper()
	var all []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// checkParts checks a split dump's files against its info: every part at
// most size bytes with the size and sha256 listed, the whole the payload.
func checkParts(t *testing.T, paths []string, info layout.Info, size int64) []byte {
	t.Helper()
	if len(paths) < 2 || info.Parts != len(paths) || len(info.PayloadParts) != len(paths) || info.Schema != layout.InfoSchemaSplit {
		t.Fatalf("%d parts, info %+v", len(paths), info)
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if want := info.PayloadParts[i]; int64(len(b)) > size || int64(len(b)) != want.Size || hex.EncodeToString(sum[:]) != want.SHA256 {
			t.Errorf("part %d: %d bytes, want at most %d and as listed %+v", i+1, len(b), size, want)
		}
	}
	all := concat(t, paths)
	sum := sha256.Sum256(all)
	if int64(len(all)) != info.PayloadSize || hex.EncodeToString(sum[:]) != info.PayloadSHA256 {
		t.Errorf("the parts together are not the payload the info describes")
	}
	return all
}

func TestSealSplit(t *testing.T) {
	tr := makeTree(t)
	_, id, rec := newSupportIdentity(t)
	out := t.TempDir()
	s, err := Seal(context.Background(), tr.dir, SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec}, IncludeKey: true, OutDir: out, Split: layout.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	files := layout.LocalFiles(out, testUUID)
	if s.PayloadPath != files.Part(1) || s.PayloadParts[len(s.PayloadParts)-1] != files.Part(len(s.PayloadParts)) {
		t.Errorf("payload %s, parts %v", s.PayloadPath, s.PayloadParts)
	}
	info, err := layout.ReadInfoFile(s.InfoPath)
	if err != nil {
		t.Fatal(err)
	}
	payload := checkParts(t, s.PayloadParts, info, layout.MinPartSize)
	a, err := openAll(t, bytes.NewReader(payload), openKeyFile(t, s.KeyPath, id))
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, a, tr, layout.MemberPrefix(testUUID))

	if _, err := Seal(context.Background(), tr.dir, SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec}, OutDir: t.TempDir(), Split: layout.MinPartSize - 1}); err == nil || !strings.Contains(err.Error(), "--split") {
		t.Errorf("parts under 1 MiB: err = %v", err)
	}
}

// Split turns a dump sealed whole into parts with the same bytes.
func TestSplitSealedDump(t *testing.T) {
	_, s, _ := sealTree(t, true)
	whole, err := os.ReadFile(s.PayloadPath)
	if err != nil {
		t.Fatal(err)
	}
	files, info, err := Split(context.Background(), s.PayloadPath, layout.MinPartSize)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(checkParts(t, files.Payloads(&info), info, layout.MinPartSize), whole) {
		t.Error("the parts are not the payload's bytes")
	}
	if _, err := os.Stat(s.PayloadPath); err == nil {
		t.Error("the whole payload is still there")
	}
	if reread, err := layout.ReadInfoFile(s.InfoPath); err != nil || !reread.Split() {
		t.Errorf("info on disk: %+v, %v", reread, err)
	}
	if _, _, err := Split(context.Background(), files.Part(1), layout.MinPartSize); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("splitting again: err = %v", err)
	}
}
