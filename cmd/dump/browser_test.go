package main

import (
	"bufio"
	"context"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fixturetest"
)

// The page tests drive Debian's chromium, headless, from Go. Screenshots go
// to DUMP_TEST_ARTIFACTS (default $TMPDIR/dump-test-artifacts); with
// DUMP_UPDATE_SCREENSHOTS=1 they also replace the references in docs/.

// newBrowser starts a fresh headless chromium; every request any of its
// pages makes is recorded in the returned log.
func newBrowser(t *testing.T) (context.Context, *requestLog) {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("DUMP_SKIP_BROWSER") != "" {
			t.Skip("DUMP_SKIP_BROWSER is set")
		}
		t.Fatal("chromium not found: apt-get install chromium (or set DUMP_SKIP_BROWSER=1)")
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(cancel)
	reqs := &requestLog{}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(reqs.record))
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("chromium: enable network events: %v", err)
	}
	return ctx, reqs
}

// saveScreenshot keeps a screenshot as a test artefact; a reference one
// (docs/screenshots/<name>) is replaced with DUMP_UPDATE_SCREENSHOTS=1.
func saveScreenshot(t *testing.T, name string, png []byte, reference bool) {
	t.Helper()
	dir := os.Getenv("DUMP_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dump-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
	if reference && os.Getenv("DUMP_UPDATE_SCREENSHOTS") != "" {
		ref := filepath.Join(repoRoot(t), "docs", "screenshots", name)
		if err := os.WriteFile(ref, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// requestLog records every request a page makes.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *requestLog) record(ev any) {
	if e, ok := ev.(*network.EventRequestWillBeSent); ok {
		l.mu.Lock()
		l.urls = append(l.urls, e.Request.URL)
		l.mu.Unlock()
	}
}

func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// hostileSpec fails with markup on stderr: the page must show it as text.
const hostileSpec = `- name: hostile
  category: system
  kind: run
  command: [sh, -c, "echo '<script>window.pwned=1</script>' >&2; exit 1"]
  output: system/hostile.txt
`

// fixtureDumpWithFindings gathers the k3s fixture with a failing collector,
// plants host trouble (a full disk, OOM kills, one with markup in the
// process name) and re-runs the findings, as support would on an old dump.
func fixtureDumpWithFindings(t *testing.T) string {
	t.Helper()
	root := fixturetest.Sysroot(t, "k3s-server")
	r := runDump(t, t.TempDir(), nil, "gather", "--sysroot", root, "--profile", "host,k3s,kube",
		"--spec", writeSpec(t, hostileSpec), "--out", t.TempDir())
	if r.code != 3 {
		t.Fatalf("gather with a failing collector: want exit 3: %s", r)
	}
	tree := untar(t, r.lastLine())
	plant := func(name, extra string) {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "findings", "host-trouble", "system", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "system", name), append(b, extra...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plant("df.txt", "")
	plant("dmesg.txt", "2026-01-10T10:41:00,000000+00:00 Out of memory: Killed process 666 (<script>window.pwned=2</script><img src=x onerror=window.pwned=3>)\n")
	if r := runDump(t, t.TempDir(), nil, "analyze", tree); r.code != 0 {
		t.Fatalf("analyze: %s", r)
	}
	return tree
}

func TestIndexPageInChromium(t *testing.T) {
	tree := fixtureDumpWithFindings(t)
	page := filepath.Join(tree, "index.html")
	fi, err := os.Stat(page)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("index.html of the fixture dump: %d bytes", fi.Size())
	m, err := gather.ReadManifest(tree)
	if err != nil {
		t.Fatal(err)
	}

	ctx, reqs := newBrowser(t)
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL), chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	t.Logf("navigate to loaded: %s", time.Since(start))
	var loadMS float64
	eval(t, ctx, `(function(){var n=performance.getEntriesByType('navigation')[0];return n.loadEventEnd-n.startTime})()`, &loadMS)
	t.Logf("render time in chromium (navigation start to load end): %.1f ms", loadMS)

	// Findings are the first thing on the page.
	var firstH2 string
	eval(t, ctx, `document.querySelector('h2').id`, &firstH2)
	var firstFinding string
	eval(t, ctx, `document.querySelector('.finding h3').textContent`, &firstFinding)
	if firstH2 != "findings" || !strings.Contains(firstFinding, "CRITICAL") {
		t.Errorf("the page does not open with the findings: first section %q, first finding %q", firstH2, firstFinding)
	}

	// Markup from the host stays text.
	var pwned bool
	eval(t, ctx, `window.pwned !== undefined`, &pwned)
	var text string
	eval(t, ctx, `document.body.innerText`, &text)
	if pwned || !strings.Contains(text, "<script>window.pwned=1</script>") || !strings.Contains(text, "<script>window.pwned=2</script>") {
		t.Errorf("hostile lines ran or vanished: pwned=%v, shown as text: %v %v", pwned,
			strings.Contains(text, "window.pwned=1"), strings.Contains(text, "window.pwned=2"))
	}

	// The filter hides rows: status, then text.
	failed := 0
	for _, c := range m.Collectors {
		if c.Failed() {
			failed++
		}
	}
	var visible int
	eval(t, ctx, `(function(){var s=document.getElementById('f-status');s.value='failed';s.dispatchEvent(new Event('change'));
		return Array.from(document.querySelectorAll('#collectors-table tbody tr')).filter(r=>!r.hidden).length})()`, &visible)
	if visible != failed || failed == 0 || visible == len(m.Collectors) {
		t.Errorf("status filter 'failed' shows %d rows, want the %d failed of %d", visible, failed, len(m.Collectors))
	}
	eval(t, ctx, `(function(){var s=document.getElementById('f-status');s.value='';s.dispatchEvent(new Event('change'));
		var q=document.getElementById('f-text');q.value='k3s-version';q.dispatchEvent(new Event('input'));
		return Array.from(document.querySelectorAll('#collectors-table tbody tr')).filter(r=>!r.hidden).length})()`, &visible)
	if visible != 1 {
		t.Errorf("text filter 'k3s-version' shows %d rows, want 1", visible)
	}
	// Sorting by size orders the rows by bytes.
	var sorted bool
	eval(t, ctx, `(function(){var q=document.getElementById('f-text');q.value='';q.dispatchEvent(new Event('input'));
		Array.from(document.querySelectorAll('#collectors-table th')).find(th=>th.textContent==='Size').click();
		var v=Array.from(document.querySelectorAll('#collectors-table tbody tr')).map(r=>Number(r.cells[6].dataset.v));
		return v.every((x,i)=>i===0||v[i-1]<=x)})()`, &sorted)
	if !sorted {
		t.Error("clicking Size does not sort the collectors by size")
	}

	// Every link resolves to a file of the dump.
	var links []string
	eval(t, ctx, `Array.from(document.querySelectorAll('a[href]')).map(a=>a.href)`, &links)
	if len(links) < 20 {
		t.Errorf("only %d links on the page", len(links))
	}
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil || u.Scheme != "file" {
			t.Errorf("link %q leaves the dump", l)
			continue
		}
		if _, err := os.Stat(u.Path); err != nil {
			t.Errorf("link %q: %v", l, err)
		}
	}

	// Light and dark, readable at 1280 px.
	saveScreenshot(t, "index.png", screenshot(t, ctx), true)
	var light, dark string
	eval(t, ctx, `getComputedStyle(document.body).backgroundColor`, &light)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	eval(t, ctx, `getComputedStyle(document.body).backgroundColor`, &dark)
	saveScreenshot(t, "index-dark.png", screenshot(t, ctx), false)
	if light == dark {
		t.Errorf("dark mode has the light background %s", light)
	}
	var width int
	eval(t, ctx, `document.documentElement.scrollWidth`, &width)
	if width > 1280 {
		t.Errorf("the page is %d px wide at a 1280 px window", width)
	}

	// No request but the page itself.
	if got := reqs.list(); len(got) != 1 || got[0] != pageURL {
		t.Errorf("the page made %d requests, want only itself: %v", len(got), got)
	}
}

// eval runs JavaScript in the page and decodes its value into out.
func eval[T any](t *testing.T, ctx context.Context, js string, out *T) {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	*out = v
}

func screenshot(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	return png
}

// startDump runs a long-lived dump command (serve, view) and returns the
// URL it prints; the process is stopped at the end of the test.
func startDump(t *testing.T, env []string, args ...string) (string, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(dumpBin, args...)
	cmd.Env = append(baseEnv(t), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-lines:
		if !ok || !strings.HasPrefix(l, "http://") {
			t.Fatalf("dump %v printed %q, not a URL; stderr:\n%s", args, l, stderr.String())
		}
		return l, &stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("dump %v printed no URL; stderr:\n%s", args, stderr.String())
	}
	return "", nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// The serve page: click the button, watch the collectors go by, get the
// uuid, and open the uploaded dump as support would.
func TestServeCreatesADumpFromTheButton(t *testing.T) {
	identity, recipient := keygen(t)
	bucket := t.TempDir()
	root := fixturetest.Sysroot(t, "k3s-server")
	pageURL, stderr := startDump(t, nil, "serve", "--addr", "127.0.0.1:0", "--to", "file://"+bucket,
		"--recipient", recipient, "--sysroot", root, "--profile", "k3s", "--out", t.TempDir())

	ctx, reqs := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible("#create")); err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "serve-start.png", screenshot(t, ctx), false)
	if err := chromedp.Do(ctx, chromedp.Click("#create")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible("#uuid")); err != nil {
		var status string
		eval(t, ctx, `document.getElementById('status').textContent+' | '+document.getElementById('notes').textContent`, &status)
		t.Fatalf("no uuid on the page: %v; page says %s; serve said:\n%s", err, status, stderr.String())
	}
	var id string
	eval(t, ctx, `document.getElementById('uuid').textContent`, &id)
	var events, rows int
	eval(t, ctx, `window.dumpEvents`, &events)
	eval(t, ctx, `document.querySelectorAll('#progress tbody tr').length`, &rows)
	if events < 10 || rows < 5 {
		t.Errorf("the page got %d progress events and shows %d collectors", events, rows)
	}
	saveScreenshot(t, "serve.png", screenshot(t, ctx), true)
	for _, u := range reqs.list() {
		if !strings.HasPrefix(u, strings.SplitN(pageURL, "?", 2)[0]) {
			t.Errorf("the serve page requested %s", u)
		}
	}

	r := runDump(t, t.TempDir(), nil, "decrypt", "--from", "file://"+bucket, "--identity", identity, "--out", t.TempDir(), id)
	if r.code != 0 {
		t.Fatalf("decrypt the dump the button made: %s", r)
	}
	if m, err := gather.ReadManifest(r.lastLine()); err != nil || m.UUID != id {
		t.Errorf("decrypted dump: %v, uuid %v, want %s", err, m, id)
	}
}
