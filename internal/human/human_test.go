package human

import (
	"os/exec"
	"testing"
)

// A printed command is pasted into a shell as it is: a path with a space or a
// quote must stay one argument.
func TestQuoteSurvivesTheShell(t *testing.T) {
	for _, s := range []string{"/var/tmp/dump-outbox/dump-x.tar.zst.age", "/home/a b/it's.age", "", "s3://b/p", "$HOME", "a\nb", "!x"} {
		out, err := exec.Command("sh", "-c", `printf %s `+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("Quote(%q) = %s: the shell read %q (%v)", s, Quote(s), out, err)
		}
	}
	if got := Quote("file:///tmp/bucket"); got != "file:///tmp/bucket" {
		t.Errorf("a plain URL was quoted: %s", got)
	}
}

func TestCommandSurvivesTheShell(t *testing.T) {
	argv := []string{"sh", "-c", "echo 'a' $B", "", "--since=86400s"}
	line := Command(argv)
	if want := `sh -c 'echo '\''a'\'' $B' '' --since=86400s`; line != want {
		t.Errorf("Command = %s, want %s", line, want)
	}
	out, err := exec.Command("sh", "-c", `for a in `+line+`; do printf '[%s]' "$a"; done`).Output()
	if err != nil || string(out) != "[sh][-c][echo 'a' $B][][--since=86400s]" {
		t.Errorf("the shell read %s back as %q (%v)", line, out, err)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 8 << 20: "8.0 MiB", 1536 << 20: "1.5 GiB", 2 << 40: "2.0 TiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
