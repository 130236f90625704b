package redact

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpus = "../../testdata/secrets"

// readList reads one value per line (planted.txt, context.txt).
func readList(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// copyCorpus copies the corpus files (not the two lists) into a temp dir.
func copyCorpus(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(corpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(corpus, p)
		if rel == "planted.txt" || rel == "context.txt" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// leakForms are the forms in which a planted secret must not appear.
func leakForms(v string) map[string]string {
	return map[string]string{
		"plain":         v,
		"base64":        base64.StdEncoding.EncodeToString([]byte(v)),
		"base64url":     base64.URLEncoding.EncodeToString([]byte(v)),
		"base64url-raw": base64.RawURLEncoding.EncodeToString([]byte(v)),
		"query-escaped": url.QueryEscape(v),
		"path-escaped":  url.PathEscape(v),
	}
}

func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(b, gzipMagic) { // rotated logs: what matters is inside
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return nil
	})
	return files
}

// TestCorpus redacts the whole corpus and checks that no planted secret, in
// any encoding, survives, while every context value still does.
func TestCorpus(t *testing.T) {
	planted := readList(t, "planted.txt")
	contextVals := readList(t, "context.txt")
	dir := copyCorpus(t)

	before := readTree(t, dir)
	all := strings.Join(mapValues(before), "\n")
	for _, p := range planted {
		if !strings.Contains(all, p) && !strings.Contains(all, base64.StdEncoding.EncodeToString([]byte(p))) && !strings.Contains(all, url.QueryEscape(p)) &&
			!containsAnyLine(all, p) {
			t.Errorf("planted value %q is not in the corpus: the test would prove nothing", p)
		}
	}

	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := r.Tree(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// Redaction left nothing for the leak scan to find.
	rep, err := r.Scan(context.Background(), dir)
	if err != nil || len(rep.Fixed) > 0 {
		t.Errorf("leak scan after Tree: err %v, fixed %v", err, rep.Fixed)
	}
	after := readTree(t, dir)
	leaked := 0
	for _, p := range planted {
		for form, v := range leakForms(p) {
			for name, body := range after {
				if strings.Contains(body, v) {
					leaked++
					t.Errorf("planted secret %q leaked (%s form) in %s", p, form, name)
				}
			}
		}
	}
	all = strings.Join(mapValues(after), "\n")
	survived := 0
	for _, c := range contextVals {
		if strings.Contains(all, c) {
			survived++
		} else {
			t.Errorf("context value %q was lost", c)
		}
	}
	total := Counts{}
	for _, c := range counts {
		total.Add(c)
	}
	t.Logf("planted %d, leaked %d, context %d/%d survived, redactions %v", len(planted), leaked, survived, len(contextVals), total)
	if os.Getenv("REDACT_SHOW") != "" {
		for name, body := range after {
			t.Logf("==== %s\n%s", name, body)
		}
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// containsAnyLine accepts a planted PEM body line that is present only
// inside a base64-encoded key (tctl and kubeconfig carry keys that way).
func containsAnyLine(all, p string) bool {
	for _, f := range strings.Fields(all) {
		if len(f) > 40 {
			if dec, err := base64.StdEncoding.DecodeString(f); err == nil && strings.Contains(string(dec), p) {
				return true
			}
		}
	}
	return false
}
