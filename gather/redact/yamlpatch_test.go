package redact

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dumptool/dump/gather/redact/yamlfast"
	"gopkg.in/yaml.v3"
)

// decodeAll parses every document of a YAML stream into plain Go values.
func decodeAll(t *testing.T, what string, b []byte) []any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var out []any
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%s is not valid YAML: %v\n%s", what, err, b)
			}
			return out
		}
		if v != nil {
			out = append(out, v)
		}
	}
}

// patchCases need the fast parser; fallbackCases need yaml.v3 for part of the input.
var patchCases = map[string]string{
	"secret and last-applied": `apiVersion: v1
kind: Secret
data:
  a: YWJjZGVmZ2hpams=
  b: ""
stringData:
  c: 'it''s a secret'
  d: "dq \"esc\" \u00e9 value\ttab"
metadata:
  name: s1
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Secret","stringData":{"password":"LastAppliedPw5xJl"}}
`,
	"scalar styles": `config:
  password: multi line
    plain Secret9value
  token: "double quoted
    multi line Tok3nValue99 \
    joined"
  client_secret: 'single
    quoted

    with empty line 77Secret'
  script: |-
    echo start
    export DB_PASSWORD=hunter2hunter2

    done
  notes: |
    free text with password=Pw12345678 inside
  args: ["--token", 'Tok-998877xyz', --db-password, "pw: with colon 9", {k: v}]
  env:
  - name: API_KEY
    value: 'abc123def456'
  - {name: K3S_TOKEN, value: Tok99887766}
  - name: PLAIN
    value: ok
  url: "postgres://user:UrlPw-12345@db:5432/x"
  empty:
  n: 12
  flag: true
  nothing: ~
`,
	"kubeconfig": `apiVersion: v1
kind: Config
users:
- name: u
  user:
    token: abcdefghijklmnop1234
    exec:
      env:
      - name: AWS_PROFILE
        value: ExecEnvSecret1234
- name: v
  user:
    password: x9y8z7w6v5
`,
	"teleport token": `kind: token
version: v2
metadata:
  name: 0a1b2c3d4e5f6a7b8c9d
spec:
  roles: [Node]
---
kind: cluster_auth_preference
spec:
  tokens:
  - "proxy,node:StaticTok1234567"
  - plainstatic1234567
`,
}

var fallbackCases = map[string]string{
	"anchor":  "a: &x {password: AnchorPw123456}\nb: *x\n---\npassword: SecondDocPw1234\n",
	"comment": "# token: CommentTok1234567890abc\npassword: CommentedPw12345 # note\n",
	"folded":  "password: >\n  folded Secret77\n  text\n",
}

// The fast path gives the same values as the yaml.v3 path, keeps the layout
// of what it did not change, and its output parses.
func TestYAMLPatchMatchesTree(t *testing.T) {
	r := mustNew(t, Options{})
	cases := map[string]string{}
	for k, v := range patchCases {
		cases[k] = v
	}
	for k, v := range fallbackCases {
		cases[k] = v
	}
	filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
		if err == nil && filepath.Ext(p) == ".yaml" {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			cases[p] = string(b)
		}
		return err
	})
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			tc, fc := Counts{}, Counts{}
			want, ok := r.redactYAMLTree([]byte(in), tc)
			if !ok {
				t.Fatal("yaml.v3 path failed")
			}
			got, ok := r.patchYAML([]byte(in), fc)
			if !ok {
				t.Fatal("patch path failed")
			}
			if !reflect.DeepEqual(decodeAll(t, "patched output", got), decodeAll(t, "yaml.v3 output", want)) {
				t.Errorf("values differ\npatched:\n%s\nyaml.v3:\n%s", got, want)
			}
			if !reflect.DeepEqual(tc, fc) {
				t.Errorf("counts differ: patched %v, yaml.v3 %v", fc, tc)
			}
			if tc.Total() == 0 && !strings.HasPrefix(name, corpus) {
				t.Errorf("nothing redacted in %s", in)
			}
		})
	}
	for name, in := range patchCases {
		if _, _, ok := yamlfast.Patch([]byte(in), fastOnly{yamlRules{r}, t, name}); !ok {
			t.Errorf("%s: the fast path failed", name)
		}
	}
	// Unchanged lines keep their layout.
	out, _ := r.Bytes([]byte(patchCases["scalar styles"]), "x.yaml")
	for _, l := range []string{"  - {name: K3S_TOKEN, value: '[redacted:token:", "  nothing: ~\n", "  empty:\n  n: 12\n", "    echo start\n"} {
		if !strings.Contains(string(out), l) {
			t.Errorf("layout lost, no %q in\n%s", l, out)
		}
	}
}

// A big List is redacted item by item (in parallel), with odd items on the
// yaml.v3 path, and gives the same values as yaml.v3 on the whole document.
func TestYAMLListItems(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nitems:\n")
	for i := 0; b.Len() < 5<<18; i++ { // above the 1 MiB from which yamlfast patches items on several CPUs
		switch i % 500 {
		case 7:
			fmt.Fprintf(&b, "- kind: Pod\n  metadata: &m%d\n    name: anchored-%d\n  spec:\n    password: AnchorPw%dxyz\n  copy: *m%d\n", i, i, i, i)
		case 9:
			fmt.Fprintf(&b, "- kind: Secret\n  # comment with token=CommentTok%dabcdef\n  data:\n    k: dGVzdA==\n", i)
		default:
			fmt.Fprintf(&b, "- kind: Pod\n  metadata:\n    name: web-%d\n    labels: {app: web}\n  spec:\n    args: [\"--db-password\", \"pw-%d-secret\"]\n    env:\n    - name: API_TOKEN\n      value: tok-%d-abcdef\n    - name: LEVEL\n      value: info\n    script: |\n      a\n      password=pw%dxx\n", i, i, i, i)
		}
	}
	b.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n  token: HeadTok123456789\n")
	in := []byte(b.String())
	r := mustNew(t, Options{})
	tc, fc := Counts{}, Counts{}
	want, ok := r.redactYAMLTree(in, tc)
	if !ok {
		t.Fatal("yaml.v3 path failed")
	}
	got, ok := r.patchYAML(in, fc)
	if !ok {
		t.Fatal("patch path failed")
	}
	if !reflect.DeepEqual(decodeAll(t, "patched output", got), decodeAll(t, "yaml.v3 output", want)) {
		t.Error("values differ from the yaml.v3 path")
	}
	if !reflect.DeepEqual(tc, fc) {
		t.Errorf("counts differ: patched %v, yaml.v3 %v", fc, tc)
	}
	for _, s := range []string{"AnchorPw7xyz", "CommentTok9abcdef", "pw-1-secret", "tok-1-abcdef", "pw1xx", "HeadTok123456789"} {
		if strings.Contains(string(got), s) {
			t.Errorf("secret %q survived", s)
		}
	}
}

// fastOnly are the redaction rules with the yaml.v3 path forbidden: the
// patch cases must all be in the fast parser's subset.
type fastOnly struct {
	yamlRules
	t    *testing.T
	name string
}

func (f fastOnly) Slow(doc []byte) ([]byte, Counts, bool) {
	f.t.Errorf("%s: the fast parser refused a document:\n%s", f.name, doc)
	return f.yamlRules.Slow(doc)
}

// FuzzYAMLPatch checks that the fast path, where it takes a document, gives
// valid YAML with the same values and counts as the yaml.v3 path.
func FuzzYAMLPatch(f *testing.F) {
	for _, in := range patchCases {
		f.Add(in)
	}
	for _, in := range fallbackCases {
		f.Add(in)
	}
	r := mustNew(f, Options{})
	f.Fuzz(func(t *testing.T, in string) {
		tc, fc := Counts{}, Counts{}
		want, ok := r.redactYAMLTree([]byte(in), tc)
		if !ok {
			return
		}
		if !parses(in) || !parses(string(want)) || !roundTrips(in) {
			return // nothing to compare with
		}
		got, ok := r.redactYAML([]byte(in), fc) // the fast path or, where it gives up, yaml.v3
		if !ok {
			t.Fatalf("redaction failed where yaml.v3 worked")
		}
		if !reflect.DeepEqual(decodeAll(t, "patched output", got), decodeAll(t, "yaml.v3 output", want)) {
			t.Fatalf("values differ\ninput:\n%s\npatched:\n%s\nyaml.v3:\n%s", in, got, want)
		}
		if !reflect.DeepEqual(tc, fc) {
			t.Fatalf("counts differ: patched %v, yaml.v3 %v", fc, tc)
		}
	})
}

func parses(s string) bool {
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			return err.Error() == "EOF"
		}
	}
}

// roundTrips reports whether yaml.v3 writes back the values it read, so that
// its output is a fair reference for the patched output.
func roundTrips(s string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var in, back []any
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			break
		}
		var v any
		if n.Decode(&v) != nil {
			return false
		}
		if v != nil {
			in = append(in, v)
		}
		if len(n.Content) > 0 && enc.Encode(&n) != nil {
			return false
		}
	}
	enc.Close()
	dec = yaml.NewDecoder(strings.NewReader(b.String()))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			break
		}
		if v != nil {
			back = append(back, v)
		}
	}
	return reflect.DeepEqual(in, back)
}

// itemsAlone redacts each item of a List or top-level sequence as a
// document of its own, and the rest of a List as another, and puts the
// pieces together: what redacting the whole document gives when the rules
// need no more context than the item's.
func itemsAlone(t *testing.T, r *Redactor, doc string) (string, Counts) {
	t.Helper()
	c := Counts{}
	redact := func(s string) string {
		out, ok := r.redactYAML([]byte(s), c)
		if !ok {
			t.Fatalf("does not parse:\n%s", s)
		}
		return string(out)
	}
	head, body, list := "", doc, !strings.HasPrefix(doc, "- ")
	if list {
		i := strings.Index(doc, "\nitems:\n") + len("\nitems:\n")
		head, body = doc[:i], doc[i:]
	}
	var items []string
	rest := false // past the items: the rest of a List
	for l := range strings.SplitAfterSeq(body, "\n") {
		rest = rest || !strings.HasPrefix(l, "- ") && !strings.HasPrefix(l, " ") && l != "\n"
		switch {
		case rest:
			head += l
		case strings.HasPrefix(l, "- "):
			items = append(items, l)
		default:
			items[len(items)-1] += l
		}
	}
	var b strings.Builder
	for _, it := range items {
		b.WriteString(redact(it))
	}
	if !list {
		return b.String(), c
	}
	h := redact(head)
	i := strings.Index(h, "\nitems:\n") + len("\nitems:\n")
	return h[:i] + b.String() + h[i:], c
}

// slowSpy are the redaction rules reporting whether the fast parser refused
// anything; Maybe lets everything through to the parser.
type slowSpy struct {
	yamlRules
	slow *bool
}

func (s slowSpy) Slow(doc []byte) ([]byte, Counts, bool) {
	*s.slow = true
	return s.yamlRules.Slow(doc)
}

func (slowSpy) Maybe([]byte) bool { return true }

// asItems makes a YAML document (a mapping) one item of a sequence.
func asItems(doc string) string {
	return "- " + strings.ReplaceAll(strings.TrimSuffix(doc, "\n"), "\n", "\n  ") + "\n"
}

// A large List or top-level sequence is redacted item by item with the
// output, byte for byte, and counts of redacting it whole: items of
// kubectl Lists (Secrets, ConfigMaps holding config files, Pods with secret
// env values and flags), flow-style items, every YAML document of the
// corpus as an item, and items outside the fast subset (comments, anchors),
// which take yaml.v3 alone in a List and send a top-level sequence to
// yaml.v3 whole. Multi-document streams too.
func TestYAMLItemsMatchWholeDocument(t *testing.T) {
	r := mustNew(t, Options{})
	var corpusItems []string
	filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
		if err == nil && filepath.Ext(p) == ".yaml" {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for doc := range strings.SplitSeq(string(b), "---\n") {
				if strings.TrimSpace(doc) != "" {
					corpusItems = append(corpusItems, asItems(doc))
				}
			}
		}
		return err
	})
	if len(corpusItems) < 10 {
		t.Fatalf("only %d corpus documents", len(corpusItems))
	}
	repeat := func(size int, items ...string) string {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			b.WriteString(items[i%len(items)])
		}
		return b.String()
	}
	asList := func(items string) string {
		return "apiVersion: v1\nitems:\n" + items + "kind: List\nmetadata:\n  resourceVersion: \"\"\n  token: HeadTok123456789\n"
	}
	flow := "- {apiVersion: v1, kind: Secret, data: {token: VG9rMTIzNDU2Nzg5MGFiYw==}, metadata: {name: s}}\n"
	odd := []string{
		"- kind: Secret # a comment\n  data:\n    token: VG9rMTIzNDU2Nzg5MGFiYw==\n",
		"- kind: Pod\n  metadata: &m\n    name: anchored\n  spec:\n    password: AnchorPw123456\n  copy: *m\n",
	}
	docs := map[string]string{
		"kubectl List":            string(kubeListYAML(300<<10, true)),
		"kubectl List, parallel":  string(kubeListYAML(1200<<10, true)),
		"sequence":                string(kubeListYAML(300<<10, false)),
		"sequence, parallel":      string(kubeListYAML(1200<<10, false)),
		"flow-style items":        repeat(100<<10, flow, asItems(patchCases["kubeconfig"])),
		"corpus as a sequence":    repeat(300<<10, corpusItems...),
		"corpus as a List":        asList(repeat(300<<10, corpusItems...)),
		"List with odd items":     asList(repeat(200<<10, append(corpusItems[:3:3], odd...)...)),
		"sequence with a comment": repeat(200<<10, odd[0], flow),
		"sequence with an anchor": repeat(1200<<10, flow, flow, odd[1]),
		"sequence of patch cases": repeat(100<<10, asItems(patchCases["secret and last-applied"]), asItems(patchCases["scalar styles"])),
		"List of fallback cases":  asList(repeat(100<<10, asItems(fallbackCases["comment"]), asItems(fallbackCases["folded"]))),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			got, c := r.Bytes([]byte(doc), "kube/x.yaml")
			var want string
			wc := Counts{}
			slow := false
			yamlfast.Patch([]byte(doc), slowSpy{yamlRules{r}, &slow})
			if slow && !strings.HasPrefix(doc, "apiVersion") {
				out, ok := r.redactYAMLTree([]byte(doc), wc) // the whole document on yaml.v3
				if !ok {
					t.Fatal("yaml.v3 failed")
				}
				want = string(out)
			} else {
				want, wc = itemsAlone(t, r, doc)
			}
			if string(got) != want {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Fatalf("output differs from byte %d:\nitem by item: %.300q\nwhole:        %.300q", i, got[i:], want[i:])
			}
			if !reflect.DeepEqual(c, wc) {
				t.Errorf("counts differ: item by item %v, whole %v", c, wc)
			}
			if c.Total() == 0 {
				t.Error("nothing redacted")
			}
		})
	}
	// Streams of several such documents: each is redacted as it is alone.
	for _, pair := range [][2]string{{docs["kubectl List"], docs["sequence"]}, {docs["sequence with a comment"], docs["corpus as a List"]}} {
		got, _ := r.Bytes([]byte(pair[0]+"---\n"+pair[1]), "kube/x.yaml")
		a, _ := r.Bytes([]byte(pair[0]), "kube/x.yaml")
		b, _ := r.Bytes([]byte(pair[1]), "kube/x.yaml")
		if string(got) != string(a)+"---\n"+string(b) {
			t.Errorf("a stream of two documents differs from the two alone")
		}
	}
}

// A YAML document of up to 64 MiB is redacted by structure, a larger one as
// text, whether or not its reader tells its size.
func TestYAMLDocumentSizeLimit(t *testing.T) {
	r := mustNew(t, Options{})
	head := "kind: Secret\ndata:\n  k: c2VjcmV0c2VjcmV0c2VjcmV0\nnotes: |\n"
	line := strings.Repeat("x", 63) + "\n"
	for _, size := range []int{maxDoc, maxDoc + 1} {
		doc := []byte(head + strings.Repeat("  "+line, (size-len(head))/(len(line)+2)))
		doc = append(doc, strings.Repeat("\n", size-len(doc))...)
		var outs [2]string
		for i, rd := range []io.Reader{bytes.NewReader(doc), struct{ io.Reader }{bytes.NewReader(doc)}} {
			var b bytes.Buffer
			if _, err := r.Stream(&b, rd, "kube/x.yaml"); err != nil {
				t.Fatal(err)
			}
			outs[i] = b.String()
		}
		if outs[0] != outs[1] {
			t.Errorf("%d bytes: the output depends on whether the reader tells its size", size)
		}
		if structured := strings.Contains(outs[0][:200], "[redacted:secret_data:"); structured != (size <= maxDoc) {
			t.Errorf("%d bytes: redacted by structure %v, want %v", size, structured, size <= maxDoc)
		}
	}
}
