package redact

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Each case: the input line(s), what must vanish, what must stay.
var textCases = []struct {
	name, in string
	gone     []string
	kept     []string
}{
	{"bearer header", "curl -H 'Authorization: Bearer 7f3kQ9zLmN2pX8vB4wT6' https://api", []string{"7f3kQ9zLmN2pX8vB4wT6"}, []string{"https://api", "Authorization: Bearer"}},
	{"basic header", `"Authorization":["Basic dXNlcjpodW50ZXIy"]`, []string{"dXNlcjpodW50ZXIy"}, nil},
	{"jwt anywhere", "sa token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlMTIz used", []string{"eyJzdWIiOiJ4In0"}, []string{"used"}},
	{"url password", "dial redis://:Redis-Pw-998@cache:6379/0 ok", []string{"Redis-Pw-998"}, []string{"@cache:6379/0"}},
	{"query param", "GET /login?user=bob&client_secret=Qs-99xkLm2&x=1", []string{"Qs-99xkLm2"}, []string{"user=bob", "x=1"}},
	{"amz signature", "GET /b/o?X-Amz-Credential=AKIAQWERTYUIOPASDFGH%2F20261121&X-Amz-Signature=9f8e7d6c5b4a39281706f5e4d3c2b1a0", []string{"AKIAQWERTYUIOPASDFGH", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}, nil},
	{"flag equals", "/usr/bin/app --db-password=Pw-Flag-777 --port=80", []string{"Pw-Flag-777"}, []string{"--port=80"}},
	{"flag space", "k3s agent --token FlagSpaceTok123 --server https://a:6443", []string{"FlagSpaceTok123"}, []string{"--server https://a:6443"}},
	{"env export", "export GITHUB_TOKEN='EnvTok-abc-123'", []string{"EnvTok-abc-123"}, []string{"export GITHUB_TOKEN="}},
	{"systemd env", `Environment="K3S_TOKEN=UnitTok-55" "K3S_NODE_NAME=n1"`, []string{"UnitTok-55"}, []string{"K3S_NODE_NAME=n1"}},
	{"logfmt", `level=info msg="login" password="two words pw"`, []string{"two words pw"}, []string{`msg="login"`}},
	{"escaped json", `{"MESSAGE":"cfg {\"api_key\":\"EscKey-12345678\"}"}`, []string{"EscKey-12345678"}, nil},
	{"aws pair", "AKIAIOSFODNN7EXAMPL3 wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"AKIAIOSFODNN7EXAMPL3", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, nil},
	{"k3s token", "join with K10" + strings.Repeat("ab", 32) + "::server:K3sSrvPw9", []string{"K3sSrvPw9"}, []string{"join with"}},
	{"bootstrap token", "kubeadm join --discovery token abcdef.0123456789abcdef", []string{"0123456789abcdef"}, nil},
	{"entropy near word", "generated join token 9a7c0e3f5b1d2e4f6a8c0b2d4e6f8a1c for nodes", []string{"9a7c0e3f5b1d2e4f6a8c0b2d4e6f8a1c"}, []string{"for nodes"}},
	{"google key", "maps key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", []string{"AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"}, nil},
	{"github token", "remote https://ghp_Abcdefghijklmnopqrstuvwxyz0123456789@github.com/x", []string{"ghp_Abcdefghijklmnopqrstuvwxyz0123456789"}, []string{"github.com/x"}},
	{"age identity", "key AGE-SECRET-KEY-1QQPQ9Z0QXJ8X5QGZ8J7YVXH3W5P4N2K0F6D8S9A7L5M3N1B2V4C6X8Z0Q", []string{"AGE-SECRET-KEY-1QQPQ9Z0QXJ8X5QGZ8J7YVXH3W5P4N2K0F6D8S9A7L5M3N1B2V4C6X8Z0Q"}, nil},
	{"inline pem", `"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", "x": 1`, []string{"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BEGIN PRIVATE"}, []string{`"x": 1`}},
	{"cut pem tail", "QyNTUxOQAAACDkq0cLzXbbO2PLTXQ0YkJ1yM8RmPkh4VZ9l0uKkVQo3wAAAJjFZJvl\nxWSb5QAAAAtzc2gtZWQyNTUxOQAAACDkq0cLzXbbO2PLTX\n-----END OPENSSH PRIVATE KEY-----\nnext line", []string{"QyNTUxOQAAACDkq0cLzXbbO2PLTXQ0YkJ1yM8RmPkh4VZ9l0uKkVQo3wAAAJjFZJvl", "xWSb5QAAAAtzc2gtZWQyNTUxOQAAACDkq0cLzXbbO2PLTX"}, []string{"next line"}},
	{"pem cut by EOF", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oqGkdyKqOgnVoAoGCCqGSM49", []string{"MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oqGkdyKqOgnVoAoGCCqGSM49"}, nil},
	// False positives we must not produce.
	{"ca_pin", "ca_pin: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", nil, []string{"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
	{"image digest near key", "pulled image key docker.io/rancher/k3s@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", nil, []string{"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}},
	{"uuid near token", "token for host 5b1e7a52-3c4d-4e6f-8a9b-0c1d2e3f4a5b accepted", nil, []string{"5b1e7a52-3c4d-4e6f-8a9b-0c1d2e3f4a5b"}},
	{"prose token", `msg="failed to validate token: invalid signature"`, nil, []string{"failed to validate token: invalid signature"}},
	{"token file flag", "--token-file=/var/lib/rancher/k3s/server/token --kubelet-client-key=/etc/k/client.key", nil, []string{"/var/lib/rancher/k3s/server/token", "/etc/k/client.key"}},
	{"synced key", "I1121 controller.go:123] Successfully synced key kube-system/coredns-6799fbcd5-x7k2p", nil, []string{"kube-system/coredns-6799fbcd5-x7k2p"}},
	{"password-stdin", "docker login --password-stdin registry.example.org", nil, []string{"registry.example.org"}},
	{"secretName", "secretName: tls-secret-prod-01", nil, []string{"tls-secret-prod-01"}},
	{"unit names", "Started k3s.service - Lightweight Kubernetes; teleport.service active (running)", nil, []string{"k3s.service - Lightweight Kubernetes", "teleport.service active (running)"}},
	{"git sha near key", "key rotated at commit 3f2c1a9b8e7d6c5b4a39281706f5e4d3c2b1a0f9", nil, nil},
}

func TestTextRules(t *testing.T) {
	r := mustNew(t, Options{})
	for _, tc := range textCases {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := r.Bytes([]byte(tc.in+"\n"), "system/test.txt")
			for _, g := range tc.gone {
				if strings.Contains(string(out), g) {
					t.Errorf("secret %q survived:\n%s", g, out)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(string(out), k) {
					t.Errorf("non-secret %q was lost:\n%s", k, out)
				}
			}
		})
	}
}

// Structured output stays valid and keeps keys, order and other values.
func TestStructuredValid(t *testing.T) {
	r := mustNew(t, Options{})
	dir := copyCorpus(t)
	if _, err := r.Tree(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	for name, body := range readTree(t, dir) {
		switch filepath.Ext(name) {
		case ".yaml":
			dec := yaml.NewDecoder(strings.NewReader(body))
			for {
				var v any
				if err := dec.Decode(&v); err != nil {
					if err.Error() != "EOF" {
						t.Errorf("%s is no longer valid YAML: %v", name, err)
					}
					break
				}
			}
		case ".json", ".log":
			for i, l := range strings.Split(strings.TrimSpace(body), "\n") {
				if strings.HasSuffix(name, "service-account.json") {
					l = body
				}
				if !json.Valid([]byte(l)) {
					t.Errorf("%s line %d is not valid JSON: %s", name, i+1, l)
				}
				if strings.HasSuffix(name, "service-account.json") {
					break
				}
			}
		}
	}
	// Multi-line strings keep their other lines.
	out, _ := r.Bytes([]byte("data:\n  app.conf: |\n    listen 80\n    db_password = MultiLinePw99\n    workers 4\n"), "cm.yaml")
	if !strings.Contains(string(out), "listen 80") || !strings.Contains(string(out), "workers 4") ||
		strings.Contains(string(out), "MultiLinePw99") {
		t.Errorf("multi-line scalar not redacted line by line:\n%s", out)
	}
	// Key order is kept.
	out, _ = r.Bytes([]byte("zeta: 1\npassword: hunter2hunter2\nalpha: 2\n"), "c.yaml")
	if !regexpOrder(string(out), "zeta", "password", "alpha") || !strings.Contains(string(out), "alpha: 2") {
		t.Errorf("YAML keys or order changed:\n%s", out)
	}
	out, _ = r.Bytes([]byte(`{"zeta":1,"token":"abc123abc123","alpha":[true,null,1.5e3]}`), "c.json")
	if string(out) != `{"zeta":1,"token":"`+tokenOf(t, string(out))+`","alpha":[true,null,1.5e3]}` {
		t.Errorf("JSON not kept as is apart from the secret: %s", out)
	}
}

func regexpOrder(s string, keys ...string) bool {
	last := -1
	for _, k := range keys {
		i := strings.Index(s, k)
		if i < last {
			return false
		}
		last = i
	}
	return true
}

func tokenOf(t *testing.T, s string) string {
	m := tokenRe.FindString(s)
	if m == "" {
		t.Fatalf("no token in %s", s)
	}
	return m
}

// Files that are pure secrets are not copied at all.
func TestSecretFile(t *testing.T) {
	for _, tc := range []struct {
		path, head string
		skip       bool
	}{
		{"/root/.ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl", true},
		{"/root/.ssh/id_ed25519.pub", "ssh-ed25519 AAAAC3 root@h", false},
		{"/var/lib/rancher/k3s/server/tls/server-ca.key", "-----BEGIN EC PRIVATE KEY-----", true},
		{"/var/lib/rancher/k3s/server/tls/server-ca.crt", "-----BEGIN CERTIFICATE-----", false},
		{"/var/lib/rancher/k3s/server/token", "K10abc::server:def\n", true},
		{"/var/lib/rancher/k3s/server/node-token", "K10abc::server:def\n", true},
		{"/home/u/.aws/credentials", "[default]\naws_access_key_id = AKIA", true},
		{"/etc/gcp/sa.json", `{"type": "service_account", "private_key_id": "x", "private_key": "-----BEGIN`, true},
		{"/etc/teleport.yaml", "teleport:\n  auth_token: x", false},
		{"/etc/rancher/k3s/k3s.yaml", "apiVersion: v1\nclusters:", false},
		{"/etc/shadow", "root:$6$...", true},
		{"/etc/passwd", "root:x:0:0:root:/root:/bin/bash", false},
		{"/srv/app/tls.pem", "-----BEGIN CERTIFICATE-----\n...\n-----BEGIN RSA PRIVATE KEY-----", true},
	} {
		skip, why := SecretFile(tc.path, []byte(tc.head))
		if skip != tc.skip || (skip && why == "") {
			t.Errorf("SecretFile(%s) = %v %q, want %v", tc.path, skip, why, tc.skip)
		}
	}
}

func TestObfuscation(t *testing.T) {
	r := mustNew(t, Options{Obfuscate: []string{"hostnames", "ips", "users", "domains"}})
	r.AddIdentities([]string{"web-07", "web-07.corp.acme.net"}, []string{"jdoe"}, []string{"corp.acme.net"})
	in := "web-07.corp.acme.net (10.1.2.3) user jdoe ssh from 192.168.7.9 to api.corp.acme.net; lo 127.0.0.1 any 0.0.0.0 k3s v1.31.4 web-077\n"
	out1, c := r.Bytes([]byte(in), "system/x.txt")
	out2, _ := r.Bytes([]byte(in), "system/y.txt")
	s := string(out1)
	for _, g := range []string{"web-07.", "jdoe", "10.1.2.3", "192.168.7.9", "corp.acme.net"} {
		if strings.Contains(s, g) {
			t.Errorf("%q not obfuscated: %s", g, s)
		}
	}
	for _, k := range []string{"127.0.0.1", "0.0.0.0", "v1.31.4", "web-077", "host-", "user-", ".example", "api.domain-"} {
		if !strings.Contains(s, k) {
			t.Errorf("%q missing: %s", k, s)
		}
	}
	if string(out1) != string(out2) || c["ip"] != 2 {
		t.Errorf("obfuscation not consistent or miscounted (%v):\n%s\n%s", c, out1, out2)
	}
	m := r.ObfuscationMap()
	if !strings.HasPrefix(m["10.1.2.3"], "10.") || !strings.HasPrefix(m["jdoe"], "user-") {
		t.Errorf("map misses entries: %v", m)
	}
	p := filepath.Join(t.TempDir(), "map.json")
	if err := r.WriteObfuscationMap(p); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("map file mode %v, want 0600", fi.Mode().Perm())
	}
	// Off by default.
	plain := mustNew(t, Options{})
	plain.AddIdentities([]string{"web-07"}, nil, nil)
	if o, _ := plain.Bytes([]byte(in), "x.txt"); string(o) != in {
		t.Errorf("obfuscation ran although not asked for: %s", o)
	}
}

// Large lines and files do not break the streaming path.
func TestLongLine(t *testing.T) {
	r := mustNew(t, Options{})
	in := strings.Repeat("a", 3<<20) + " password=LongLinePw123\nend\n"
	out, _ := r.Bytes([]byte(in), "x.log")
	if len(out) < 3<<20 || !strings.HasSuffix(string(out), "end\n") {
		t.Fatalf("long line mangled: %d bytes", len(out))
	}
	if strings.Contains(string(out), "LongLinePw123") {
		t.Error("secret after a long line survived")
	}
}

// A kubectl List above the split-encoding size stays valid YAML, keeps every
// item and multi-line strings, and loses its secrets.
func TestLargeYAMLList(t *testing.T) {
	var buf strings.Builder
	buf.WriteString("# head\napiVersion: v1\nkind: List\nitems:\n")
	n := 0
	for ; buf.Len() < splitEncode+splitEncode/4; n++ {
		fmt.Fprintf(&buf, "- kind: Pod\n  metadata:\n    name: web-%d\n  spec:\n    env:\n    - name: API_TOKEN\n      value: tok-%d-abcdef\n    script: |\n      line one\n      line two password=pw%dxx\n", n, n, n)
	}
	buf.WriteString("metadata:\n  resourceVersion: \"\"\n")
	r := mustNew(t, Options{})
	out, _ := r.Bytes([]byte(buf.String()), "kube/kubectl_get_pods.yaml")
	var doc struct {
		Kind  string
		Items []struct {
			Spec struct{ Script string }
		}
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("output is not valid YAML: %v", err)
	}
	if doc.Kind != "List" || len(doc.Items) != n || !strings.HasPrefix(doc.Items[7].Spec.Script, "line one\nline two password=[redacted:") {
		t.Fatalf("items or values lost: kind %q, %d of %d items, script %q", doc.Kind, len(doc.Items), n, doc.Items[7].Spec.Script)
	}
	if strings.Contains(string(out), "tok-7-abcdef") || strings.Contains(string(out), "pw7xx") {
		t.Fatal("secret survived")
	}
}

// Hostile lines (a megabyte of keywords, quotes or base64) must be handled in
// linear time: a quadratic scan would hang a gather on one bad log line.
func TestPathologicalLines(t *testing.T) {
	r := mustNew(t, Options{})
	for _, unit := range []string{"key", "token=", `password=\"`, "Bearer ", "secret ", "eyJ", "-----END RSA PRIVATE KEY-----", "a:b@", "--token "} {
		in := strings.Repeat(unit, (1<<20)/len(unit))
		for _, name := range []string{"x.txt", "x.json"} {
			out, _ := r.Bytes([]byte(in+"\n"), name)
			if len(out) == 0 {
				t.Errorf("%q x %d in %s: no output", unit, len(in)/len(unit), name)
			}
		}
	}
}
