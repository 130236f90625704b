package main

import (
	"bufio"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/fixturetest"
)

// local rewrites the printed URL to reach the server over loopback (a
// server on 0.0.0.0 prints that address).
func local(t *testing.T, printed string) (*url.URL, string) {
	t.Helper()
	u, err := url.Parse(printed)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(u.Host)
	u.Host = net.JoinHostPort("127.0.0.1", port)
	token := u.Query().Get("token")
	u.RawQuery = ""
	return u, token
}

func request(t *testing.T, method, target string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader("profile=host"))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A serve reachable from other machines needs the token on every request,
// and no other site can press the button.
func TestServeRefusesStrangers(t *testing.T) {
	printed, _ := startDump(t, nil, "serve", "--addr", "0.0.0.0:0", "--token", "s3cret-token-for-test", "--to", "file://"+t.TempDir())
	u, token := local(t, printed)
	if token != "s3cret-token-for-test" {
		t.Fatalf("printed URL %s does not carry the token", printed)
	}
	base := u.String()
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{"page without token", "GET", "", nil, http.StatusUnauthorized},
		{"events without token", "GET", "events", nil, http.StatusUnauthorized},
		{"button without token", "POST", "dumps", nil, http.StatusUnauthorized},
		{"wrong token", "GET", "", map[string]string{"X-Dump-Token": "guess"}, http.StatusUnauthorized},
		{"foreign origin", "POST", "dumps", map[string]string{"X-Dump-Token": token, "Origin": "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", "POST", "dumps", map[string]string{"X-Dump-Token": token, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"no path is a file", "GET", "download/..%2f..%2fetc%2fpasswd", map[string]string{"X-Dump-Token": token}, http.StatusNotFound},
		{"page with token", "GET", "", map[string]string{"X-Dump-Token": token}, http.StatusOK},
	} {
		if got := request(t, tc.method, base+tc.path, tc.header); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}

	// Without --token, a generated one is printed and required.
	printed, stderr := startDump(t, nil, "serve", "--addr", "0.0.0.0:0", "--to", "file://"+t.TempDir())
	u, token = local(t, printed)
	// stderr reaches the buffer through a copying goroutine: it may lag the URL.
	for end := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), token) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if len(token) < 20 || !strings.Contains(stderr.String(), token) {
		t.Errorf("no generated token printed (URL %s); stderr:\n%s", printed, stderr.String())
	}
	if got := request(t, "GET", u.String(), nil); got != http.StatusUnauthorized {
		t.Errorf("non-loopback serve without the token: HTTP %d, want 401", got)
	}

	// On loopback, a page served under another name (DNS rebinding) is refused.
	printed, _ = startDump(t, nil, "serve", "--addr", "127.0.0.1:0", "--to", "file://"+t.TempDir())
	u, token = local(t, printed)
	if got := request(t, "GET", u.String(), map[string]string{"X-Dump-Token": token, "Host": "rebind.example:" + u.Port()}); got != http.StatusForbidden {
		t.Errorf("loopback serve under a foreign Host: HTTP %d, want 403", got)
	}
}

// dump view serves a sealed dump read-only on loopback.
func TestViewSealedDump(t *testing.T) {
	identity, recipient := keygen(t)
	root := fixturetest.Sysroot(t, "k3s-server")
	r := runDump(t, t.TempDir(), nil, "gather", "--encrypt", "--recipient", recipient, "--sysroot", root, "--profile", "k3s", "--out", t.TempDir())
	if r.code != 0 {
		t.Fatalf("gather --encrypt: %s", r)
	}
	printed, _ := startDump(t, nil, "view", "--identity", identity, r.lastLine())
	u, token := local(t, printed)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "", http.StatusOK},
		{"GET", "manifest.json", http.StatusOK},
		{"GET", "index.html", http.StatusMovedPermanently},
		{"GET", "../../../etc/passwd", http.StatusNotFound},
		{"POST", "manifest.json", http.StatusMethodNotAllowed},
	} {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest(tc.method, u.String()+tc.path, nil)
		req.Header.Set("X-Dump-Token", token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s /%s: HTTP %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	if got := request(t, "GET", u.String()+"manifest.json", nil); got != http.StatusUnauthorized {
		t.Errorf("view without the token: HTTP %d, want 401", got)
	}

	// Every link of the served index.html answers, with the cookie the
	// printed URL set (as a browser following the links would).
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(printed)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	links := regexp.MustCompile(`href="(\./[^"#]*|[a-z]+\.(?:json|txt|md))"`).FindAllStringSubmatch(string(page), -1)
	if len(links) < 10 {
		t.Fatalf("only %d links in the served index.html", len(links))
	}
	for _, l := range links {
		ref, _ := url.Parse(html.UnescapeString(l[1]))
		resp, err := browser.Get(resp.Request.URL.ResolveReference(ref).String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("link %s: HTTP %d", l[1], resp.StatusCode)
		}
	}
}

func TestViewBadInput(t *testing.T) {
	dir := t.TempDir()
	notDump := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDump, []byte("x"), 0o600)
	page := t.TempDir()
	os.WriteFile(filepath.Join(page, "index.html"), []byte("<p>x"), 0o600)
	for _, args := range [][]string{
		{"view"},
		{"view", filepath.Join(dir, "missing")},
		{"view", notDump},
		{"view", dir},
		{"view", "--addr", "0.0.0.0:0", page},
	} {
		if r := runDump(t, t.TempDir(), nil, args...); r.code != 2 || r.stdout != "" {
			t.Errorf("%v: want exit 2 and nothing on stdout: %s", args, r)
		}
	}
}

// One dump at a time: a second press while one runs is refused.
func TestServeRunsOneDumpAtATime(t *testing.T) {
	_, recipient := keygen(t)
	root := fixturetest.Sysroot(t, "k3s-server")
	printed, _ := startDump(t, nil, "serve", "--addr", "127.0.0.1:0", "--recipient", recipient,
		"--sysroot", root, "--profile", "k3s", "--out", t.TempDir(), "--to", "")
	u, token := local(t, printed)
	h := map[string]string{"X-Dump-Token": token}
	if got := request(t, "POST", u.String()+"dumps", h); got != http.StatusAccepted {
		t.Fatalf("first press: HTTP %d, want 202", got)
	}
	if got := request(t, "POST", u.String()+"dumps", h); got != http.StatusConflict {
		t.Errorf("second press while the first runs: HTTP %d, want 409", got)
	}

	// Without an upload destination the page offers the sealed files.
	req, _ := http.NewRequest("GET", u.String()+"events", nil)
	req.Header.Set("X-Dump-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var done struct {
		Kind  string   `json:"kind"`
		UUID  string   `json:"uuid"`
		Files []string `json:"files"`
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			json.Unmarshal([]byte(d), &done)
			if done.Kind == "done" {
				break
			}
		}
	}
	if done.Kind != "done" || len(done.Files) != 3 {
		t.Fatalf("last event %+v: want done with the three sealed files", done)
	}
	for _, f := range done.Files {
		if !strings.Contains(f, done.UUID) {
			t.Errorf("download %s is not of dump %s", f, done.UUID)
		}
		if got := request(t, "GET", u.String()+"download/"+url.PathEscape(f), h); got != http.StatusOK {
			t.Errorf("download %s: HTTP %d", f, got)
		}
	}
}
