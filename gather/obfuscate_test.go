package gather

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dumptool/dump/gather/redact"
)

// A host named "vm" is too short to replace everywhere: it is replaced where
// it stands as a host name, and the manifest says plainly what was kept.
func TestShortHostNameObfuscatedWhereItStands(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("vm\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1\tlocalhost\n127.0.1.1\tvm\nfd12:3456::9\tvm6\n"), 0o644)
	withProfiles(t, Collector{Name: "hosts", Category: "system", Kind: KindCopy, Paths: []string{"/etc/hosts"}, Output: "system/hosts"})
	red, err := redact.New(redact.Options{Obfuscate: []string{"hostnames", "ips"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Sysroot, opts.Redactor = root, red
	res := mustRun(t, opts)
	got := readOut(t, res, "system/hosts")
	if strings.Contains(got, "\tvm\n") || strings.Contains(got, "fd12:3456::9") || !strings.Contains(got, "127.0.0.1\tlocalhost") {
		t.Errorf("short host name or IPv6 address not obfuscated: %q", got)
	}
	said := false
	for _, w := range res.Manifest.Warnings {
		said = said || strings.Contains(w, "shorter than 3 characters")
	}
	if !said {
		t.Errorf("the manifest does not say what --obfuscate kept: %q", res.Manifest.Warnings)
	}
}
