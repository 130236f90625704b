package redact

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var tokenRe = regexp.MustCompile(`\[redacted:[a-z0-9_]+:([0-9a-f]{8})(?::len=\d+)?\]`)

// hexes returns the HMAC parts of the tokens in s.
func hexes(s string) []string {
	var out []string
	for _, m := range tokenRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func mustNew(t testing.TB, o Options) *Redactor {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSameSecretSameToken(t *testing.T) {
	r := mustNew(t, Options{})
	a, _ := r.Bytes([]byte("token: \"s3cr3t-join-token-AAA\"\n"), "nodes/n1/config.yaml")
	b, _ := r.Bytes([]byte("Nov 21 host k3s[1]: msg=\"joining\" token=s3cr3t-join-token-AAA\n"), "systemd/n1/k3s/log.txt")
	c, _ := r.Bytes([]byte("K3S_TOKEN=s3cr3t-join-token-BBB\n"), "nodes/n1/k3s.env")
	ha, hb, hc := hexes(string(a)), hexes(string(b)), hexes(string(c))
	if len(ha) != 1 || len(hb) != 1 || len(hc) != 1 {
		t.Fatalf("want one token each, got %q %q %q", a, b, c)
	}
	if ha[0] != hb[0] {
		t.Errorf("same secret in two files got different tokens: %s vs %s", a, b)
	}
	if ha[0] == hc[0] {
		t.Errorf("different secrets got the same token: %s vs %s", a, c)
	}
}

func TestTokensDifferPerDumpUnlessKeyGiven(t *testing.T) {
	in := []byte("password=correct-horse-battery-staple\n")
	r1, r2 := mustNew(t, Options{}), mustNew(t, Options{})
	o1, _ := r1.Bytes(in, "a.txt")
	o2, _ := r2.Bytes(in, "a.txt")
	if string(o1) == string(o2) {
		t.Errorf("two dumps with random keys produced the same token %s", o1)
	}
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "redaction.key"))
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := mustNew(t, Options{Key: key}), mustNew(t, Options{Key: key})
	o1, _ = k1.Bytes(in, "a.txt")
	o2, _ = k2.Bytes(in, "b.txt")
	if string(o1) != string(o2) || len(hexes(string(o1))) != 1 {
		t.Errorf("same key gave different tokens: %s vs %s", o1, o2)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	k1, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || len(k1) != 32 {
		t.Errorf("key file mode %v, key length %d; want 0600 and 32", fi.Mode().Perm(), len(k1))
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil || string(k1) != string(k2) {
		t.Errorf("second load did not reuse the key (err %v)", err)
	}
	os.Chmod(p, 0o644)
	if _, err := LoadOrCreateKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key file was accepted (err %v)", err)
	}
}

// Many collectors redact at once; the same secret must map to one token.
func TestConcurrentConsistency(t *testing.T) {
	r := mustNew(t, Options{})
	var wg sync.WaitGroup
	outs := make([]string, 16)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, _ := r.Bytes([]byte(strings.Repeat("Authorization: Bearer abcDEF1234567890ghiJKL\n", 200)), "x.log")
			outs[i] = string(o)
		}()
	}
	wg.Wait()
	for _, o := range outs[1:] {
		if o != outs[0] || strings.Contains(o, "abcDEF1234567890ghiJKL") {
			t.Fatal("concurrent redaction was inconsistent or leaked")
		}
	}
	if got := r.Totals()["bearer"]; got != 16*200 {
		t.Errorf("Totals counted %d bearer tokens, want %d", got, 16*200)
	}
}
