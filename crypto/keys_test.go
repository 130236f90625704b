package crypto

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// canOpen reports whether ids decrypt something encrypted to rec.
func canOpen(t *testing.T, rec age.Recipient, ids []age.Identity) bool {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rec)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	_, err = age.Decrypt(&buf, ids...)
	return err == nil
}

func TestKeygenPlain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "support.key")
	line, err := WriteKeyFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("mode %o, want 600", m)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "# created: ") ||
		lines[1] != "# public key: "+line || !strings.HasPrefix(lines[2], "AGE-SECRET-KEY-1") {
		t.Errorf("identity file is not in age-keygen format:\n%s", data)
	}
	calls := 0
	ids, err := LoadIdentities(path, func() (string, error) { calls++; return "", nil })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Error("asked for a passphrase for a plain identity file")
	}
	rec, _, _ := ParseRecipient(line)
	if !canOpen(t, rec, ids) {
		t.Error("the loaded identity does not match the returned recipient")
	}

	if _, err := WriteKeyFile(path, ""); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: err = %v, want already exists", err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
		t.Error("existing key file was changed")
	}
}

func TestKeygenPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "support.key")
	line, err := WriteKeyFile(path, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	rec, _, _ := ParseRecipient(line)
	ids, err := LoadIdentities(path, func() (string, error) { return "s3cret", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !canOpen(t, rec, ids) {
		t.Error("identity loaded with the passphrase does not match")
	}
	_, err = LoadIdentities(path, func() (string, error) { return "nope", nil })
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: err = %v", err)
	}
	_, err = LoadIdentities(path, nil)
	if err == nil || !strings.Contains(err.Error(), "passphrase-protected") {
		t.Errorf("no passphrase source: err = %v", err)
	}
}

func TestLoadIdentitiesBinaryProtected(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	var buf bytes.Buffer
	sr, _ := age.NewScryptRecipient("pw")
	sr.SetWorkFactor(10)
	w, _ := age.Encrypt(&buf, sr)
	w.Write([]byte(id.String() + "\n"))
	w.Close()
	path := filepath.Join(t.TempDir(), "id.age")
	os.WriteFile(path, buf.Bytes(), 0o600)
	ids, err := LoadIdentities(path, func() (string, error) { return "pw", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !canOpen(t, id.Recipient(), ids) {
		t.Error("binary protected identity does not match")
	}
}

func TestLoadIdentitiesSSH(t *testing.T) {
	requireTool(t, "ssh-keygen")
	dir := t.TempDir()
	for _, c := range []struct{ typ, pass string }{{"ed25519", ""}, {"ed25519", "pw"}, {"rsa", "pw"}} {
		key := filepath.Join(dir, c.typ+c.pass)
		run(t, "", nil, "ssh-keygen", "-q", "-t", c.typ, "-N", c.pass, "-f", key)
		pub, _ := os.ReadFile(key + ".pub")
		rec, _, err := ParseRecipient(string(pub))
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		ids, err := LoadIdentities(key, func() (string, error) { calls++; return c.pass, nil })
		if err != nil {
			t.Fatalf("%s pass=%q: %v", c.typ, c.pass, err)
		}
		if want := map[bool]int{true: 0, false: 1}[c.pass == ""]; calls != want {
			t.Errorf("%s pass=%q: %d passphrase calls, want %d", c.typ, c.pass, calls, want)
		}
		if !canOpen(t, rec, ids) {
			t.Errorf("%s pass=%q: loaded identity does not match its public key", c.typ, c.pass)
		}
		if c.pass != "" {
			_, err := LoadIdentities(key, func() (string, error) { return "bad", nil })
			if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
				t.Errorf("%s: wrong passphrase: err = %v", c.typ, err)
			}
		}
	}
	ecdsa := filepath.Join(dir, "ecdsa")
	run(t, "", nil, "ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsa)
	if _, err := LoadIdentities(ecdsa, nil); err == nil || !strings.Contains(err.Error(), "only ed25519 and rsa") {
		t.Errorf("ecdsa key: err = %v", err)
	}
}

func TestLoadIdentitiesRejectsOthers(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	for name, content := range map[string]string{
		"public.txt": id.Recipient().String() + "\n",
		"junk.txt":   "hello world\n",
		"empty.txt":  "",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		_, err := LoadIdentities(p, nil)
		if err == nil || !strings.Contains(err.Error(), "is not an age identity or an ssh private key") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := LoadIdentities(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("missing file loaded")
	}
}

func TestParseRecipients(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	// From ssh-keygen; ssh-keygen -lf prints SHA256:iVMwEkv8Yc2Qx08JB2JhnMlchL5zf74+4ycbuglMZcQ.
	const ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6czXAPMTGIv3io31VClNGgNIG+ecMpR8oEivMJw3Fc support@vendor"
	in := "# support team\n\n" + a.Recipient().String() + "\n  " + b.Recipient().String() + "  \n" + ssh + "\n"
	recs, fps, err := ParseRecipients(strings.NewReader(in), "recipients.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || len(fps) != 3 {
		t.Fatalf("got %d recipients, %d fingerprints, want 3", len(recs), len(fps))
	}
	if fps[2] != "ssh-ed25519 SHA256:iVMwEkv8Yc2Qx08JB2JhnMlchL5zf74+4ycbuglMZcQ" {
		t.Errorf("ssh fingerprint = %q", fps[2])
	}
	if fps[0] == fps[1] || !strings.HasPrefix(a.Recipient().String(), strings.TrimSuffix(fps[0][:16], "…")) {
		t.Errorf("age fingerprints %q %q", fps[0], fps[1])
	}

	_, _, err = ParseRecipients(strings.NewReader(in+"\n"+a.String()+"\n"), "recipients.txt")
	if err == nil || !strings.HasPrefix(err.Error(), "recipients.txt:7: ") || strings.Contains(err.Error(), a.String()) {
		t.Errorf("private key line: err = %v, want recipients.txt:7 without the key", err)
	}
	_, _, err = ParseRecipients(strings.NewReader("# nothing\n"), "empty.txt")
	if err == nil || !strings.Contains(err.Error(), "empty.txt: no recipients") {
		t.Errorf("empty: err = %v", err)
	}
	_, _, err = ParseRecipients(strings.NewReader("age1notakey\n"), "bad.txt")
	if err == nil || !strings.HasPrefix(err.Error(), "bad.txt:1: ") {
		t.Errorf("bad: err = %v", err)
	}
}
