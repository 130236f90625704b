package journaltest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// journalctl runs the real journalctl on the journal under root.
func journalctl(t *testing.T, root string, args ...string) string {
	t.Helper()
	args = append([]string{"--directory", filepath.Join(root, "var", "log", "journal"), "--no-pager"}, args...)
	out, err := exec.Command("journalctl", args...).Output()
	if err != nil {
		t.Fatalf("journalctl %v: %v", args, err)
	}
	return string(out)
}

func TestWriteIsReadByJournalctl(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	Write(t, root, "0123456789abcdef0123456789abcdef", []Entry{
		{Time: now.Add(-72 * time.Hour), Unit: "teleport.service", Message: "three days old"},
		{Time: now.Add(-2 * time.Hour), Unit: "teleport.service", Message: "two hours old", Priority: 3},
		{Time: now.Add(-time.Hour), Unit: "k3s.service", Message: "other unit"},
		{Time: now.Add(-time.Minute), Unit: "teleport.service", Message: "first line\nsecond line", Fields: map[string]string{"CODE_FILE": "service.go"}},
	})
	since := now.Add(-24 * time.Hour).Format("2006-01-02 15:04:05")

	text := journalctl(t, root, "-u", "teleport.service", "--since", since, "-o", "short-iso")
	if !strings.Contains(text, "two hours old") || !strings.Contains(text, "first line") {
		t.Errorf("recent entries missing from short-iso output:\n%s", text)
	}
	if strings.Contains(text, "three days old") {
		t.Errorf("--since did not drop the old entry:\n%s", text)
	}
	if strings.Contains(text, "other unit") {
		t.Errorf("-u teleport.service shows another unit:\n%s", text)
	}

	var msgs []string
	for line := range strings.Lines(journalctl(t, root, "-u", "teleport.service", "--since", since, "-o", "json")) {
		var e struct {
			Message  string `json:"MESSAGE"`
			Priority string `json:"PRIORITY"`
			CodeFile string `json:"CODE_FILE"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journalctl -o json line %q: %v", line, err)
		}
		msgs = append(msgs, e.Message)
		if e.Message == "two hours old" && e.Priority != "3" {
			t.Errorf("priority = %q, want 3", e.Priority)
		}
		if strings.HasPrefix(e.Message, "first") && e.CodeFile != "service.go" {
			t.Errorf("extra field lost: %+v", e)
		}
	}
	want := []string{"two hours old", "first line\nsecond line"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Errorf("json messages = %q, want %q", msgs, want)
	}
}

func TestExportStartsNewBootAfterGap(t *testing.T) {
	now := time.Now()
	out := Export("m", []Entry{
		{Time: now, Unit: "a.service", Message: "later"},
		{Time: now.Add(-72 * time.Hour), Unit: "a.service", Message: "earlier"},
	})
	entries := bytes.Split(bytes.TrimSpace(out), []byte("\n\n"))
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	if !bytes.Contains(entries[0], []byte("MESSAGE=earlier")) {
		t.Errorf("entries not in time order:\n%s", out)
	}
	boot := func(e []byte) string {
		for l := range strings.Lines(string(e)) {
			if v, ok := strings.CutPrefix(l, "_BOOT_ID="); ok {
				return v
			}
		}
		return ""
	}
	if boot(entries[0]) == boot(entries[1]) {
		t.Errorf("entries 72h apart share a boot id")
	}
}
