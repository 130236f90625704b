package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/fixturetest"
)

// Both fixture sysroots, with real journal files written for them, gather
// with --profile auto into the full tree of docs/design.md, complete (exit 0).
func TestFixtureTreesComplete(t *testing.T) {
	diag := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			fmt.Fprintln(w, `{"status":"ok"}`)
		case "/metrics":
			fmt.Fprintln(w, "process_state 1")
		default:
			http.NotFound(w, r)
		}
	}))
	defer diag.Close()

	cases := []struct {
		fixture string
		host    string // host id from the fixture
		want    []string
		absent  []string
	}{
		{"teleport-node", "7d2b3c1e-5f4a-4e2b-9c8d-0a1b2c3d4e5f", []string{
			"census.json", "index.html", "manifest.json", "report.txt", "trace.json", "system/uname.txt",
			"nodes/{host}/teleport.yaml", "nodes/{host}/role.auth", "nodes/{host}/role.proxy", "nodes/{host}/role.ssh",
			"nodes/{host}/teleport_version.txt", "nodes/{host}/diag/healthz.txt", "nodes/{host}/diag/readyz.txt", "nodes/{host}/diag/metrics.txt",
			"objects/tctl_get_user.yaml", "objects/tctl_get_role.yaml", "objects/tctl_get_token.yaml", "objects/tctl_status.txt",
			"systemd/{host}/teleport.service/log.txt", "systemd/{host}/teleport.service/log.json",
			"nodes/{host}/audit/events/current.log",
		}, []string{"nodes/{host}/audit/events/archived.log"}},
		{"k3s-server", "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d", []string{
			"census.json", "index.html", "k3s/version.txt", "k3s/check-config.txt", "k3s/containerd.log", "k3s/logs/k3s.log",
			"nodes/{host}/k3s/config.yaml", "nodes/{host}/k3s/registries.yaml", "nodes/{host}/k3s/k3s.yaml",
			"systemd/{host}/k3s.service/log.txt", "systemd/{host}/k3s.service/log.json",
			"kube/kubectl_logs_kube-system_coredns-7b98449c4-x2kqp_coredns.log", "kube/k3s_kubectl_get_pods_wide.txt",
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			root := fixturetest.Sysroot(t, tc.fixture)
			out := t.TempDir()
			r := runDump(t, t.TempDir(), nil, "gather", "--sysroot", root, "--profile", "auto",
				"--diag-addr", strings.TrimPrefix(diag.URL, "http://"), "--out", out)
			tree := untar(t, r.lastLine())
			if r.code != 0 {
				t.Fatalf("gather of %s is not complete: %s\n%s", tc.fixture, r, readFile(t, filepath.Join(tree, "report.txt")))
			}
			for _, p := range tc.want {
				if _, err := os.Stat(filepath.Join(tree, strings.ReplaceAll(p, "{host}", tc.host))); err != nil {
					t.Errorf("missing %s", p)
				}
			}
			for _, p := range tc.absent {
				if _, err := os.Stat(filepath.Join(tree, strings.ReplaceAll(p, "{host}", tc.host))); err == nil {
					t.Errorf("%s is older than --since and must not be gathered", p)
				}
			}
			journal := readFile(t, filepath.Join(tree, "systemd", tc.host, unitOf(tc.fixture), "log.txt"))
			if strings.Contains(journal, "DUMPTESTSECRET") || len(strings.Split(strings.TrimSpace(journal), "\n")) < 2 {
				t.Errorf("journal log.txt is empty or leaks a planted secret:\n%s", journal)
			}
			if all := concatTree(t, tree); strings.Contains(all, "DUMPTESTSECRET") {
				t.Errorf("a planted secret of the fixture reached the dump")
			}
		})
	}
}

func unitOf(fixture string) string {
	if fixture == "k3s-server" {
		return "k3s.service"
	}
	return "teleport.service"
}
