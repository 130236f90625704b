package gather

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dumptool/dump/internal/fixturetest"
)

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiagAddrFromConfig(t *testing.T) {
	if got := DiagAddrFromConfig(fixturetest.Testdata(t) + "/fixtures/teleport-node"); got != "127.0.0.1:3000" {
		t.Errorf("fixture: %q, want 127.0.0.1:3000", got)
	}
	if got := DiagAddrFromConfig(t.TempDir()); got != "" {
		t.Errorf("no config: %q", got)
	}
	root := t.TempDir()
	writeFile(t, root, "etc/teleport.yaml", "teleport:\n  nodename: x\n")
	if got := DiagAddrFromConfig(root); got != "" {
		t.Errorf("config without diag_addr: %q", got)
	}
	writeFile(t, root, "etc/teleport.yaml", "teleport: [not, a, map\n")
	if got := DiagAddrFromConfig(root); got != "" {
		t.Errorf("broken config: %q", got)
	}
}

func TestRoleMarkers(t *testing.T) {
	if got, want := RoleMarkers(fixturetest.Testdata(t)+"/fixtures/teleport-node"), []string{"auth", "proxy", "ssh"}; !slices.Equal(got, want) {
		t.Errorf("fixture: %v, want %v", got, want)
	}
	if got := RoleMarkers(t.TempDir()); got != nil {
		t.Errorf("no config: %v", got)
	}
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		// Unset services take Teleport's defaults: auth, proxy and ssh on.
		{"teleport:\n  nodename: a\n", []string{"auth", "proxy", "ssh"}},
		// An agent: only ssh and db, with the spellings Teleport accepts.
		{"auth_service:\n  enabled: false\nproxy_service:\n  enabled: \"no\"\nssh_service:\n  enabled: yes\ndb_service:\n  enabled: on\n", []string{"ssh", "db"}},
		{"auth_service:\n  enabled: 0\nproxy_service:\n  enabled: off\nssh_service:\n  enabled: \"false\"\nkubernetes_service:\n  enabled: true\napp_service:\n  enabled: \"yes\"\nwindows_desktop_service:\n  enabled: 1\ndiscovery_service:\n  enabled: y\n",
			[]string{"kube", "app", "windows_desktop", "discovery"}},
		// A section without "enabled" keeps the default.
		{"auth_service:\n  cluster_name: x\nproxy_service:\n  enabled: no\nssh_service:\n  enabled: no\nkubernetes_service:\n  listen_addr: 0.0.0.0:3026\n", []string{"auth"}},
	} {
		root := t.TempDir()
		writeFile(t, root, "etc/teleport.yaml", tc.yaml)
		if got := RoleMarkers(root); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.yaml, got, tc.want)
		}
	}
}

func TestDiagURL(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:3000", "http://127.0.0.1:3000/healthz"},
		{"0.0.0.0:3000", "http://127.0.0.1:3000/healthz"},
		{":3000", "http://127.0.0.1:3000/healthz"},
		{"[::]:3000", "http://[::1]:3000/healthz"},
		{"10.1.2.3:3434", "http://10.1.2.3:3434/healthz"},
		{"http://diag.internal:3000/", "http://diag.internal:3000/healthz"},
	} {
		if got := diagURL(tc.addr, "/healthz"); got != tc.want {
			t.Errorf("diagURL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestTeleportProfileFollowsConfig(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/teleport.yaml", "teleport:\n  data_dir: /srv/teleport\n  log:\n    output: /var/log/teleport/teleport.log\n")
	var paths []string
	for _, c := range teleportProfile(Env{Sysroot: root}).Collectors {
		paths = append(paths, c.Paths...)
	}
	for _, want := range []string{"/srv/teleport/log", "/var/log/teleport/teleport.log", "/etc/teleport.yaml"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no collector copies %s (paths %v)", want, paths)
		}
	}
}
