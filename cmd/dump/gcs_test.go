package main

import (
	"os"
	"strings"
	"testing"

	"github.com/dumptool/dump/upload/gs/gstest"
)

// Customer uploads to gs:// (the emulator stands in for GCS), support lists
// and decrypts by an 8-character prefix.
func TestGCSGatherUploadListDecrypt(t *testing.T) {
	gstest.Start(t, "support-dumps")
	gcsEnv := []string{"STORAGE_EMULATOR_HOST=" + os.Getenv("STORAGE_EMULATOR_HOST")}
	identity, recipient := keygen(t)
	dest := "gs://support-dumps/customers/acme"

	r := runDump(t, t.TempDir(), gcsEnv, "gather-upload", "--to", dest, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload to gs: %s", r)
	}
	id := r.lastLine()

	r = runDump(t, t.TempDir(), gcsEnv, "list", "--from", dest)
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.lastLine(), "yes") {
		t.Fatalf("list does not show the dump with its key: %s", r)
	}
	out := t.TempDir()
	r = runDump(t, t.TempDir(), gcsEnv, "decrypt", "--from", dest, "--identity", identity, "--out", out, id[:8])
	if r.code != 0 {
		t.Fatalf("decrypt from gs: %s", r)
	}
	if got := readFile(t, r.lastLine()+"/system/greeting.txt"); got != "hello from the spec\n" {
		t.Fatalf("greeting.txt = %q", got)
	}
}

// Support makes a ticket; the customer uploads with it and no credentials at
// all in its environment; a second use of the ticket is refused.
func TestGCSTicketFlow(t *testing.T) {
	gstest.Start(t, "support-dumps")
	gstest.ServiceAccount(t)
	supportEnv := []string{
		"STORAGE_EMULATOR_HOST=" + os.Getenv("STORAGE_EMULATOR_HOST"),
		"GOOGLE_APPLICATION_CREDENTIALS=" + os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"),
	}
	identity, recipient := keygen(t)
	dest := "gs://support-dumps/tickets"

	r := runDump(t, t.TempDir(), supportEnv, "ticket", "--to", dest, "--expires", "1h")
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "dumpticket1.") {
		t.Fatalf("ticket: %s", r)
	}
	tk := r.lastLine()

	// The customer: no STORAGE_EMULATOR_HOST, no Google credentials.
	r = runDump(t, t.TempDir(), nil, "gather-upload", "--ticket", tk, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload --ticket: %s", r)
	}
	id := r.lastLine()

	out := t.TempDir()
	r = runDump(t, t.TempDir(), supportEnv, "decrypt", "--from", dest, "--identity", identity, "--out", out, id)
	if r.code != 0 {
		t.Fatalf("support decrypt of the ticket upload: %s", r)
	}
	if got := readFile(t, r.lastLine()+"/system/greeting.txt"); got != "hello from the spec\n" {
		t.Fatalf("greeting.txt = %q", got)
	}

	bad := tk[:len(tk)-8] + "AAAAAAAA"
	r = runDump(t, t.TempDir(), nil, "gather-upload", "--ticket", bad, "--recipient", recipient, "--profile", "none")
	if r.code != 2 || !strings.Contains(r.stderr, "ticket") {
		t.Fatalf("a damaged ticket must be a usage error naming the ticket: %s", r)
	}
}
