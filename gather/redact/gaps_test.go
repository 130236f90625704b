package redact

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A number, a boolean or a duration next to a secret-looking word is a
// setting: sysctl -a has many (ipfrag_secret_interval, require_signatures),
// and redacting them made half of a host's redaction count noise.
func TestSettingsAreNotSecrets(t *testing.T) {
	r := mustNew(t, Options{})
	sysctl, err := os.ReadFile(filepath.Join(corpus, "system/sysctl.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out, c := r.Bytes(sysctl, "system/sysctl.txt")
	for _, l := range []string{"net.ipv4.ipfrag_secret_interval = 0\n", "fs.verity.require_signatures = 0\n",
		"net.ipv6.conf.all.seg6_require_hmac = 0\n", "kernel.keys.root_maxbytes = 25000000\n",
		"net.core.netdev_rss_key = 00:00:00:00"} {
		if !strings.Contains(string(out), l) {
			t.Errorf("setting %q was redacted:\n%s", l, out)
		}
	}
	if strings.Contains(string(out), "9f3c1a7e-4b2d8c60-e5a1f7b3-2c9d0e84") || c.Total() != 1 {
		t.Errorf("want exactly the TCP Fast Open key redacted, got %v:\n%s", c, out)
	}
	for _, tc := range []struct{ in, kept string }{
		{"token_ttl: 30m\n", "30m"},
		{"session_timeout = 1h30m\n", "1h30m"},
		{"secret_rotation_enabled=true\n", "true"},
		{"SECRET_COUNT=3\n", "3"},
	} {
		if out, _ := r.Bytes([]byte(tc.in), "x.conf"); !strings.Contains(string(out), tc.kept) {
			t.Errorf("%q lost its setting: %s", tc.in, out)
		}
	}
	// PINs and passwords can be numbers; long numbers can be numeric tokens.
	for _, in := range []string{"pin: 4711\n", "password=12345678\n", "client_secret=31415926535897932384\n"} {
		if out, _ := r.Bytes([]byte(in), "x.conf"); !strings.Contains(string(out), "[redacted:") {
			t.Errorf("%q was not redacted: %s", in, out)
		}
	}
}

// A Secret value that is short or a plain word is redacted where it stands,
// never replaced across the dump: "username: teleport" must not rewrite the
// namespace "teleport" in other files. Long random values still are.
func TestShortSecretValuesStayWhereTheyStand(t *testing.T) {
	r := mustNew(t, Options{})
	long := "Qm9vdHN0cmFwUGFzc3dvcmQ-x7K2p9"
	secrets := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: teleport-db\n    namespace: teleport\n  data:\n" +
		"    username: " + base64.StdEncoding.EncodeToString([]byte("teleport")) + "\n" +
		"    role: " + base64.StdEncoding.EncodeToString([]byte("administrator")) + "\n" +
		"    password: " + base64.StdEncoding.EncodeToString([]byte(long)) + "\n"
	out, _ := r.Bytes([]byte(secrets), "kube/kubectl_get_secrets.yaml")
	for _, v := range []string{"dGVsZXBvcnQ=", long} {
		if strings.Contains(string(out), v) {
			t.Fatalf("Secret value %q kept:\n%s", v, out)
		}
	}
	dir := t.TempDir()
	pods := "items:\n- metadata:\n    name: teleport-auth-0\n    namespace: teleport\n  spec:\n    serviceAccountName: administrator\n"
	manifest := `{"collectors":[{"outputs":["kube/teleport/kubectl_get_pods.yaml","kube/teleport/kubectl_logs_teleport_teleport-auth-0_teleport.log"]}]}` + "\n"
	logLine := "2026-11-21T05:10:00Z db connect user=teleport as administrator with " + long + "\n"
	writeFile(t, filepath.Join(dir, "kube/teleport/kubectl_get_pods.yaml"), pods)
	writeFile(t, filepath.Join(dir, "manifest.json"), manifest)
	writeFile(t, filepath.Join(dir, "kube/teleport/kubectl_logs_teleport_teleport-auth-0_teleport.log"), logLine)
	if _, err := r.Scan(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	tree := readTree(t, dir)
	if tree["manifest.json"] != manifest || tree[filepath.FromSlash("kube/teleport/kubectl_get_pods.yaml")] != pods {
		t.Errorf("the leak scan rewrote names or paths:\n%v", tree)
	}
	got := tree[filepath.FromSlash("kube/teleport/kubectl_logs_teleport_teleport-auth-0_teleport.log")]
	if strings.Contains(got, long) || !strings.Contains(got, "user=teleport as administrator") {
		t.Errorf("want the long value replaced and the plain words kept: %s", got)
	}
}
