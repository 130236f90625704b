package crypto

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestInteropStockTools opens sealed dumps with the stock age, zstd and tar
// CLIs exactly as doc.go tells support engineers to.
func TestInteropStockTools(t *testing.T) {
	requireTool(t, "age")
	requireTool(t, "zstd")
	requireTool(t, "tar")
	requireTool(t, "bash")
	tr := makeTree(t)

	type support struct {
		name     string
		identity string // file given to age -i
		line     string // recipient line
	}
	var supports []support

	xPath := filepath.Join(t.TempDir(), "support.key")
	xLine, err := WriteKeyFile(xPath, "")
	if err != nil {
		t.Fatal(err)
	}
	supports = append(supports, support{"x25519", xPath, xLine})
	requireTool(t, "ssh-keygen")
	for _, kt := range []string{"ed25519", "rsa"} {
		key := filepath.Join(t.TempDir(), "id_"+kt)
		run(t, "", nil, "ssh-keygen", "-q", "-t", kt, "-N", "", "-C", "support@vendor", "-f", key)
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		supports = append(supports, support{"ssh-" + kt, key, string(pub)})
	}

	var recs []age.Recipient
	for _, s := range supports {
		r, _, err := ParseRecipient(s.line)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	sealed, err := Seal(context.Background(), tr.dir, SealOptions{
		UUID: testUUID, Recipients: recs, IncludeKey: true, OutDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "dump-" + testUUID + "/"

	for _, s := range supports {
		t.Run(s.name, func(t *testing.T) {
			work := t.TempDir()
			// The documented commands, verbatim apart from the paths.
			script := `set -euo pipefail
age -d -i "$ID" "$KEY" > s.key
age -d -i s.key "$PAYLOAD" | zstd -d | tar -t > list.txt
mkdir out && age -d -i s.key "$PAYLOAD" | zstd -d | tar -x -C out`
			cmd := []string{"-c", script}
			env := []string{"ID=" + s.identity, "KEY=" + sealed.KeyPath, "PAYLOAD=" + sealed.PayloadPath}
			if out, err := runEnv(work, env, "bash", cmd...); err != nil {
				t.Fatalf("stock tools failed: %v\n%s", err, out)
			}

			list, err := os.ReadFile(filepath.Join(work, "list.txt"))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for name := range tr.files {
				want = append(want, prefix+name)
			}
			for _, d := range append(tr.dirs, "") {
				want = append(want, strings.TrimSuffix(prefix+d, "/")+"/")
			}
			got := strings.Fields(strings.TrimSpace(string(list)))
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("tar -t lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			for name, data := range tr.files {
				p := filepath.Join(work, "out", filepath.FromSlash(prefix+name))
				got, err := os.ReadFile(p)
				if err != nil {
					t.Errorf("extracted: %v", err)
					continue
				}
				if !bytes.Equal(got, data) {
					t.Errorf("extracted %s differs from the source", name)
				}
				if m := fileMode(t, p); m&0o077 != 0 {
					t.Errorf("extracted %s has mode %o, want no group/other access", name, m)
				}
			}

			// Our own loader opens the same key with the same identity file.
			ids, err := LoadIdentities(s.identity, nil)
			if err != nil {
				t.Fatal(err)
			}
			kf, err := os.Open(sealed.KeyPath)
			if err != nil {
				t.Fatal(err)
			}
			defer kf.Close()
			session, err := OpenKey(kf, ids...)
			if err != nil {
				t.Fatal(err)
			}
			if session.String() != sealed.SessionKey {
				t.Error("OpenKey returned a different session key")
			}
		})
	}

	// Fingerprints of ssh keys match what ssh-keygen -l prints.
	for i, s := range supports[1:] {
		out := run(t, "", nil, "ssh-keygen", "-l", "-E", "sha256", "-f", s.identity+".pub")
		fields := strings.Fields(string(out)) // bits, fingerprint, comment, (type)
		if got := sealed.Info.Recipients[i+1]; !strings.HasSuffix(got, " "+fields[1]) {
			t.Errorf("%s fingerprint %q, ssh-keygen says %s", s.name, got, fields[1])
		}
	}
}

// TestInteropPassphraseIdentity checks that a passphrase-protected identity
// from Keygen works as `age -d -i` input. The age CLI reads passphrases from
// the terminal only, so script(1) gives it a pseudo-terminal to type into.
func TestInteropPassphraseIdentity(t *testing.T) {
	requireTool(t, "age")
	requireTool(t, "script")
	dir := t.TempDir()
	idPath := filepath.Join(dir, "support.key")
	line, err := WriteKeyFile(idPath, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(idPath)
	if !bytes.HasPrefix(raw, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) || bytes.Contains(raw, []byte("AGE-SECRET-KEY")) {
		t.Fatalf("protected identity file is not armored age or holds the key in clear:\n%s", raw)
	}
	rec, _, err := ParseRecipient(line)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Seal(context.Background(), smallTree(t), SealOptions{UUID: testUUID, Recipients: []age.Recipient{rec}, IncludeKey: true, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}

	ageCmd := "age -d -i support.key -o s.key " + filepath.Base(s.KeyPath)
	if out, err := tryRun(dir, strings.NewReader("correct horse\n"), "script", "-qec", ageCmd, "/dev/null"); err != nil {
		t.Fatalf("age -d with the passphrase-protected identity: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "s.key"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != s.SessionKey {
		t.Errorf("age -d gave %q, not the session key", got)
	}

	os.Remove(filepath.Join(dir, "s.key"))
	if _, err := tryRun(dir, strings.NewReader("wrong horse\n"), "script", "-qec", ageCmd, "/dev/null"); err == nil {
		t.Error("age -d accepted a wrong passphrase")
	}

	// And the reverse: an identity protected by the stock `age -p` loads here.
	plain := filepath.Join(dir, "plain.key")
	if _, err := WriteKeyFile(plain, ""); err != nil {
		t.Fatal(err)
	}
	for _, armor := range []string{"-a", ""} {
		out := filepath.Join(dir, "stock"+armor+".key")
		cmd := strings.TrimSpace("age -p " + armor + " -o " + out + " " + plain)
		if o, err := tryRun(dir, strings.NewReader("pw one\npw one\n"), "script", "-qec", cmd, "/dev/null"); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, o)
		}
		calls := 0
		ids, err := LoadIdentities(out, func() (string, error) { calls++; return "pw one", nil })
		if err != nil || len(ids) != 1 || calls != 1 {
			t.Errorf("LoadIdentities(%s) = %d ids, %d passphrase calls, %v", cmd, len(ids), calls, err)
		}
	}
}
