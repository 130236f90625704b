package redact

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
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

// A line over maxLine is handled in pieces; a value straddling the cut must
// not leave its tail behind, in text or in JSON lines.
func TestLineCutKeepsValuesWhole(t *testing.T) {
	r := mustNew(t, Options{})
	secret := "CutTail-Secret-9Xq2Lm7Rz4"
	for _, name := range []string{"x.txt", "x.jsonl"} {
		head := ""
		if name == "x.jsonl" {
			head = `{"msg":"JSON lines"}` + "\n" // the JSON-lines path; the long line is not JSON
		}
		for _, back := range []int{3, 12, len(secret) + 10} {
			// "password=" lands just before the cut at maxLine bytes.
			pad := maxLine - back - len("password=")
			in := head + strings.Repeat("ab ", pad/3) + strings.Repeat("c", pad%3) + "password=" + secret + " end\nnext\n"
			out, c := r.Bytes([]byte(in), name)
			if strings.Contains(string(out), secret[len(secret)-8:]) || c["password"] != 1 {
				t.Errorf("%s, cut %d bytes into the value: tail leaked or miscounted (%v): ...%s", name, back, c, out[maxLine-64:])
			}
			if !strings.HasSuffix(string(out), " end\nnext\n") || len(out) < maxLine {
				t.Errorf("%s: text around the cut was lost", name)
			}
		}
	}
	// "password: " at the very end of a piece: the value starts the next one.
	pad := maxLine - len("password: ")
	in := strings.Repeat("x", pad) + "password: " + secret + "\n"
	if out, _ := r.Bytes([]byte(in), "x.txt"); strings.Contains(string(out), secret) {
		t.Error("a value after a cut right behind its key leaked")
	}
}

// A config file held in a ConfigMap gets the rules the file would get:
// Teleport static tokens ("proxy,node:<token>") only show as secrets by
// structure, in kubectl's YAML and JSON output alike.
func TestConfigMapConfigsByStructure(t *testing.T) {
	r := mustNew(t, Options{})
	tok := "5e1d4c8a9b6f0e2d7c5a1b3e3f9c2a7b"
	teleport := "teleport:\n  nodename: auth-0\nauth_service:\n  tokens:\n  - \"proxy,node:" + tok + "\"\n"
	asJSON := `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"teleport"},` +
		`"data":{"teleport.yaml":` + strconvQuote(teleport) + `,"notes.txt":"plain text: kept"}}]}`
	for name, in := range map[string]string{
		"kube/kubectl_get_configmaps.json": asJSON,
		"kube/kubectl_get_configmaps.yaml": "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  data:\n    config: |\n" +
			indent(teleport, "      ") + "    notes.txt: 'plain text: kept'\n",
	} {
		out, c := r.Bytes([]byte(in), name)
		if strings.Contains(string(out), tok) || c["teleport_token"] != 1 {
			t.Errorf("%s: static token not redacted by structure (%v):\n%s", name, c, out)
		}
		if !strings.Contains(string(out), "proxy,node:[redacted:teleport_token:") || !strings.Contains(string(out), "plain text: kept") {
			t.Errorf("%s: roles or other values lost:\n%s", name, out)
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func indent(s, pre string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString(pre + l + "\n")
	}
	return b.String()
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzipped(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s is no longer gzip: %v", p, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The leak scan reads through gzip: a rotated container log (0.log.<time>.gz)
// with a planted secret is found and rewritten, still compressed.
func TestScanReadsGzip(t *testing.T) {
	r := mustNew(t, Options{})
	out, _ := r.Bytes([]byte("password: Gz-Replaced-Value-42xQ\n"), "nodes/n1/app.yaml")
	if strings.Contains(string(out), "Gz-Replaced-Value-42xQ") {
		t.Fatal("setup: value not redacted")
	}
	dir := t.TempDir()
	log := "2026-11-21T05:10:00Z stdout F got " + testJWT + " from client\n" +
		"2026-11-21T05:10:01Z stdout F db login Gz-Replaced-Value-42xQ ok\n" + testPEM
	p := filepath.Join(dir, "kube/pods/teleport_auth-0_1234/auth/0.log.20261121-051000.gz")
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, gzipped(t, log), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Scan(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, l := range rep.Fixed {
		kinds[l.Kind] = true
	}
	if !kinds["jwt"] || !kinds["password"] || !kinds["private_key"] {
		t.Errorf("scan fixed %v; want the jwt, the replaced password and the key", rep.Fixed)
	}
	got := gunzipped(t, p)
	for _, s := range []string{testJWT, "Gz-Replaced-Value-42xQ", "PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"} {
		if strings.Contains(got, s) {
			t.Errorf("%q survived in the gzip file:\n%s", s, got)
		}
	}
	if !strings.Contains(got, "stdout F db login [redacted:password:") || !strings.Contains(got, " from client\n") {
		t.Errorf("text around the secrets was lost:\n%s", got)
	}
	// dump redact DIR also works through gzip.
	q := filepath.Join(dir, "app.log.1.gz")
	os.WriteFile(q, gzipped(t, "level=info token=TreeGzTok-99aXk2Lm7\n"), 0o600)
	if _, err := r.Tree(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if got := gunzipped(t, q); strings.Contains(got, "TreeGzTok-99aXk2Lm7") || !strings.Contains(got, "level=info token=[redacted:") {
		t.Errorf("Tree did not redact through gzip: %s", got)
	}
	// A .gz that does not decompress cannot be checked: the scan fails closed.
	os.WriteFile(filepath.Join(dir, "broken.gz"), append(gzipped(t, "x")[:10], "garbage"...), 0o600)
	if _, err := r.Scan(t.Context(), dir); err == nil || !strings.Contains(err.Error(), "broken.gz") {
		t.Errorf("Scan error = %v; want a failure naming broken.gz", err)
	}
}

// A secret in a file or directory name (a tar member name) is replaced by
// its token; the manifest quoting that name gets the same token, so its
// references still point at the file.
func TestSecretInFileName(t *testing.T) {
	r := mustNew(t, Options{})
	gh := "ghp_" + strings.Repeat("aB3", 12)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "nodes/n1/teleport/audit/"+gh+"/events.log"), "{}\n")
	writeFile(t, filepath.Join(dir, "nodes/n1/notes-"+gh+".txt"), "nothing secret\n")
	writeFile(t, filepath.Join(dir, "system/ps.txt"), "clean\n")
	name, changed := r.FileName("notes-" + gh + ".txt")
	if !changed || strings.Contains(name, gh) || !strings.HasPrefix(name, "notes-[redacted:token:") {
		t.Fatalf("FileName = %q, %v", name, changed)
	}
	rep, err := r.Scan(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Renamed) != 2 {
		t.Errorf("renamed %v, want the directory and the file", rep.Renamed)
	}
	tree := readTree(t, dir)
	for p := range tree {
		if strings.Contains(p, gh) {
			t.Errorf("a name still holds the secret: %s", p)
		}
	}
	// The manifest, leak-scanned on its own, names the renamed files.
	meta := t.TempDir()
	manifest := `{"outputs":["nodes/n1/notes-` + gh + `.txt","nodes/n1/teleport/audit/` + gh + `/events.log"]}` + "\n"
	writeFile(t, filepath.Join(meta, "manifest.json"), manifest)
	if _, err := r.Scan(t.Context(), meta); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(meta, "manifest.json"))
	var m struct{ Outputs []string }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Outputs {
		if _, ok := tree[filepath.FromSlash(o)]; !ok {
			t.Errorf("manifest output %s names no file in %v", o, tree)
		}
	}
}

// --obfuscate ips covers IPv6; a host name under 3 characters (or a common
// word) is replaced where it stands as a host name, and the report says so.
func TestObfuscateIPv6AndShortHostname(t *testing.T) {
	r := mustNew(t, Options{Obfuscate: []string{"hostnames", "ips"}})
	r.AddIdentities([]string{"vm"}, nil, nil)
	in := strings.Join([]string{
		"vm",
		"Nov 21 05:10:00 vm k3s[2231]: dial [2001:db8:85a3::8a2e:370:7334]:443 from fe80::1c2d:3eff:fe4f:5a6b%eth0 ok",
		"2026-11-21T05:10:00+0000 vm sshd[1]: Accepted key for root from 2001:db8::17 port 22",
		"ssh root@vm; listen [::]:8080 and [::1]:9090, group ff02::1, mapped ::ffff:192.0.2.7",
		`{"_HOSTNAME":"vm","MESSAGE":"addr 2001:db8::17: connection refused"}`,
		"hostname: vm",
		"127.0.1.1\tvm",
		"Linux vm 6.1.0-18-amd64 #1 SMP x86_64 GNU/Linux",
		"the vm image lives in /var/lib/vm; time 05:10:00, mac 52:54:00:12:34:56, std::string",
	}, "\n") + "\n"
	out, c := r.Bytes([]byte(in), "system/x.txt")
	s := string(out)
	for _, g := range []string{"2001:db8", "fe80::1c2d", " vm k3s", " vm sshd", "Linux vm ", "@vm", `"vm"`, ": vm\n", "\tvm\n", "\nvm\n", "192.0.2.7"} {
		if strings.Contains("\n"+s, g) {
			t.Errorf("%q not obfuscated:\n%s", g, s)
		}
	}
	for _, k := range []string{"%eth0", "[::]:8080", "[::1]:9090", "ff02::1", "::ffff:10.", ": connection refused",
		"the vm image lives in /var/lib/vm", "05:10:00, mac 52:54:00:12:34:56, std::string", "fd00:"} {
		if !strings.Contains(s, k) {
			t.Errorf("%q missing:\n%s", k, s)
		}
	}
	if c["ip"] != 5 || c["hostname"] != 8 {
		t.Errorf("counts %v, want 5 ip (2001:db8::17 twice) and 8 hostname", c)
	}
	m := r.ObfuscationMap()
	if m["2001:db8::17"] == "" || m["vm"] == "" || m["2001:db8::17"] != m["2001:db8::17"] {
		t.Errorf("map misses entries: %v", m)
	}
	if n := r.ObfuscationNotes(); len(n) != 1 || strings.Contains(n[0], "vm") {
		t.Errorf("notes %q: want one that says what was kept, without the name", n)
	}
}
