package crypto

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"filippo.io/age"
)

// sealedBytes returns a sealed payload and its session key.
func sealedBytes(t *testing.T, tree string) ([]byte, *age.X25519Identity) {
	t.Helper()
	s, err := Seal(context.Background(), tree, SealOptions{UUID: testUUID, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(s.PayloadPath)
	if err != nil {
		t.Fatal(err)
	}
	session, err := ParseSessionKey(s.SessionKey)
	if err != nil {
		t.Fatal(err)
	}
	return payload, session
}

// smallTree is a tree whose payload fits in one age chunk.
func smallTree(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/report.txt", []byte(strings.Repeat("all collectors ok\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func headerLen(t *testing.T, payload []byte) int {
	hdr, err := age.ExtractHeader(bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	return len(hdr)
}

func TestOpenDamagedPayload(t *testing.T) {
	big, bigKey := sealedBytes(t, makeTree(t).dir)
	small, smallKey := sealedBytes(t, smallTree(t))
	const chunk = 64<<10 + 16
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	cases := []struct {
		name    string
		payload []byte
		key     age.Identity
		want    error
	}{
		{"flipped byte in the middle", flip(big, len(big)/2), bigKey, ErrTampered},
		{"flipped byte in the last chunk", flip(big, len(big)-20), bigKey, ErrTruncated},
		{"flipped byte in a small payload", flip(small, len(small)-40), smallKey, ErrTruncated},
		{"last 100 bytes cut", big[:len(big)-100], bigKey, ErrTruncated},
		{"cut at half", big[:len(big)/2], bigKey, ErrTruncated},
		{"cut at a chunk boundary", big[:headerLen(t, big)+16+3*chunk], bigKey, ErrTruncated},
		{"last chunk dropped", big[:headerLen(t, big)+16+(len(big)-headerLen(t, big)-16)/chunk*chunk], bigKey, ErrTruncated},
		{"small payload, last 100 bytes cut", small[:len(small)-100], smallKey, ErrTruncated},
		{"cut inside the header", big[:30], bigKey, ErrTruncated},
		{"garbage appended", append(bytes.Clone(small), "junk"...), smallKey, ErrTruncated},
		{"not an age file", []byte("PK\x03\x04 this is a zip file"), bigKey, ErrTampered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := openAll(t, bytes.NewReader(c.payload), c.key)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}

			// A caller copying the raw stream must also get the error, never
			// a clean io.EOF on a short stream.
			rc, err := OpenPayload(bytes.NewReader(c.payload), c.key)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if !errors.Is(err, c.want) {
				t.Errorf("raw copy: err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestOpenIntactAfterTarEnd(t *testing.T) {
	// A tar reader stops at the end marker; Close must still succeed on an
	// intact payload (and not report it as unverified).
	payload, key := sealedBytes(t, smallTree(t))
	if _, err := openAll(t, bytes.NewReader(payload), key); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCloseEarly(t *testing.T) {
	payload, key := sealedBytes(t, makeTree(t).dir)
	rc, err := OpenPayload(bytes.NewReader(payload), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); !errors.Is(err, ErrNotVerified) {
		t.Errorf("Close after 4 KiB of 20 MB: err = %v, want ErrNotVerified", err)
	}
}

func TestOpenWrongKeys(t *testing.T) {
	_, s, _ := sealTree(t, true)
	_, other, _ := newSupportIdentity(t)

	kf, err := os.Open(s.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	_, err = OpenKey(kf, other)
	if !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("OpenKey with another identity: err = %v, want ErrWrongIdentity", err)
	}
	for _, hint := range []string{"does not match any recipient", "--identity", "--key"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q does not say %q", err, hint)
		}
	}

	pf, err := os.Open(s.PayloadPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	wrong, _ := age.GenerateX25519Identity()
	if _, err := OpenPayload(pf, wrong); !errors.Is(err, ErrWrongKey) {
		t.Errorf("OpenPayload with another session key: err = %v, want ErrWrongKey", err)
	}

	// The payload is not a key file, and the key file is not a payload.
	pf.Seek(0, io.SeekStart)
	if _, err := OpenKey(pf, other); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("OpenKey on the payload: err = %v", err)
	}
}

// TestOpenLateTruncation covers the trap of age's streaming design: the tar
// reader is done at its end marker while the rest of the stream, here a
// zstd skippable frame, is truncated. The caller must still get the error.
func TestOpenLateTruncation(t *testing.T) {
	var tarZst bytes.Buffer
	if _, err := Pack(context.Background(), &tarZst, smallTree(t), PackOptions{}); err != nil {
		t.Fatal(err)
	}
	skippable := make([]byte, 8+300<<10)
	copy(skippable, []byte{0x50, 0x2a, 0x4d, 0x18})
	binary.LittleEndian.PutUint32(skippable[4:], 300<<10)

	session, _ := age.GenerateX25519Identity()
	var payload bytes.Buffer
	w, _ := age.Encrypt(&payload, session.Recipient())
	w.Write(tarZst.Bytes())
	w.Write(skippable)
	w.Close()

	if _, err := openAll(t, bytes.NewReader(payload.Bytes()), session); err != nil {
		t.Fatalf("intact payload: %v", err)
	}
	cut := payload.Bytes()[:payload.Len()-100]
	if _, err := openAll(t, bytes.NewReader(cut), session); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated after the tar end marker: err = %v, want ErrTruncated", err)
	}
}
