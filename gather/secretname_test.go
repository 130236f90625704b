package gather

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A copied file whose name is a token (a tar member name that would carry
// it) ends up under its redacted name, and every output the manifest lists
// exists in the tree.
func TestSecretInCopiedFileName(t *testing.T) {
	root := t.TempDir()
	gh := "ghp_" + strings.Repeat("Zk9", 12)
	dir := filepath.Join(root, "var/log/app")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "session-"+gh+".log"), []byte("opened\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("started\n"), 0o644)
	withProfiles(t, Collector{Name: "applogs", Category: "app", Kind: KindCopy, Paths: []string{"/var/log/app"}, Output: "app/logs"})
	opts := testOptions(t)
	opts.Sysroot = root
	res := mustRun(t, opts)
	filepath.WalkDir(res.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(p, gh) {
			t.Errorf("a name in the tree holds the token: %s", p)
		}
		return err
	})
	b, err := os.ReadFile(filepath.Join(res.Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), gh) {
		t.Error("manifest.json holds the token")
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, c := range m.Collectors {
		for _, o := range c.Outputs {
			listed = listed || strings.Contains(o, "session-[redacted:token:")
			if _, err := os.Stat(filepath.Join(res.Dir, filepath.FromSlash(o))); err != nil {
				t.Errorf("manifest output %s: %v", o, err)
			}
		}
	}
	if !listed {
		t.Errorf("the manifest does not list the renamed file: %+v", m.Collectors)
	}
}
