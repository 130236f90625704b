package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A dump sealed to a passphrase-protected age identity and to an ssh-ed25519
// key (from a recipients file) opens locally with either identity.
func TestIdentityKindsOpenLocalDump(t *testing.T) {
	keys := t.TempDir()
	agePP := filepath.Join(keys, "support.key")
	pass := []string{"DUMP_PASSPHRASE=correct horse battery staple"}
	r := runDump(t, t.TempDir(), pass, "keygen", "--passphrase", "--out", agePP)
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "age1") {
		t.Fatalf("keygen --passphrase: %s", r)
	}
	if strings.Contains(readFile(t, agePP), "AGE-SECRET-KEY-1") {
		t.Fatalf("a passphrase-protected identity file holds the key in clear")
	}
	if fi, _ := os.Stat(agePP); fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file mode %v, want 0600", fi.Mode().Perm())
	}
	ageRecipient := r.lastLine()

	sshKey := filepath.Join(keys, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "support@vendor", "-f", sshKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen (Debian package openssh-client): %v %s", err, out)
	}
	recipients := filepath.Join(keys, "recipients.txt")
	os.WriteFile(recipients, []byte("# vendor support\n"+readFile(t, sshKey+".pub")), 0o600)

	out := t.TempDir()
	r = runDump(t, t.TempDir(), nil, "gather", "--encrypt", "--recipient", ageRecipient, "--recipients-file", recipients,
		"--out", out, "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 || !strings.HasSuffix(r.lastLine(), ".tar.zst.age") {
		t.Fatalf("gather --encrypt: %s", r)
	}
	payload := r.lastLine()
	info := readFile(t, strings.TrimSuffix(payload, ".tar.zst.age")+".json")
	if !strings.Contains(info, "ssh-ed25519 SHA256:") {
		t.Fatalf("info.json does not list the ssh recipient's fingerprint:\n%s", info)
	}

	for name, tc := range map[string]struct {
		identity string
		env      []string
	}{"age with passphrase": {agePP, pass}, "ssh-ed25519": {sshKey, nil}} {
		t.Run(name, func(t *testing.T) {
			dest := t.TempDir()
			r := runDump(t, t.TempDir(), tc.env, "decrypt", "--file", payload, "--identity", tc.identity, "--out", dest)
			if r.code != 0 {
				t.Fatalf("decrypt --file: %s", r)
			}
			if got := readFile(t, filepath.Join(r.lastLine(), "system", "greeting.txt")); got != "hello from the spec\n" {
				t.Fatalf("greeting.txt = %q", got)
			}
		})
	}

	r = runDump(t, t.TempDir(), []string{"DUMP_PASSPHRASE=wrong"}, "decrypt", "--file", payload, "--identity", agePP, "--out", t.TempDir())
	if r.code == 0 || !strings.Contains(strings.ToLower(r.stderr), "passphrase") {
		t.Fatalf("a wrong passphrase must fail and say so: %s", r)
	}
	other, _ := keygen(t)
	r = runDump(t, t.TempDir(), nil, "decrypt", "--file", payload, "--identity", other, "--out", t.TempDir())
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("a wrong identity must fail with one line: %s", r)
	}
}
