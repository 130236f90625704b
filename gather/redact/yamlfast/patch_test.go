package yamlfast

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// markRules replace every non-null, non-boolean scalar under a key named
// "secret" (as a redactor replaces values under secret keys) and count them.
type markRules struct{}

func (markRules) Rewrite(root *yaml.Node) (int, bool) {
	n := mark(root)
	return n, n > 0
}

func mark(n *yaml.Node) int {
	count := 0
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; n.Content[i].Value == "secret" && v.Kind == yaml.ScalarNode && v.Tag != "!!null" && v.Tag != "!!bool" {
				v.Value, v.Tag, v.Style = fmt.Sprintf("[gone:%d]", len(v.Value)), "!!str", 0
				count++
			}
		}
	}
	for _, c := range n.Content {
		count += mark(c)
	}
	return count
}

// Slow is the reference: decode with yaml.v3, mark, encode.
func (markRules) Slow(doc []byte) ([]byte, int, bool) { return slowMark(doc, mark) }

// slowMark decodes doc with yaml.v3, marks it and encodes it if anything changed.
func slowMark(doc []byte, mark func(*yaml.Node) int) ([]byte, int, bool) {
	docs, err := decodeNodes(doc)
	if err != nil {
		return nil, 0, false
	}
	count := 0
	for _, d := range docs {
		count += mark(d)
	}
	if count == 0 {
		return nil, 0, true
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if len(d.Content) > 0 && enc.Encode(d) != nil {
			return nil, 0, false
		}
	}
	return b.Bytes(), count, enc.Close() == nil
}

func (markRules) Maybe(b []byte) bool { return bytes.Contains(b, []byte("secret")) }

func decodeNodes(b []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("yaml.v3 panicked")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d yaml.Node
		if err := dec.Decode(&d); err == io.EOF {
			return docs, nil
		} else if err != nil {
			return nil, err
		}
		docs = append(docs, &d)
	}
}

// values decodes every document of a YAML stream into plain Go values.
func values(b []byte) ([]any, error) {
	docs, err := decodeNodes(b)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, d := range docs {
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// roundTrips reports whether yaml.v3 writes back the values it read, so
// that its output is a fair reference.
func roundTrips(in []byte) bool {
	docs, err := decodeNodes(in)
	if err != nil {
		return false
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if len(d.Content) > 0 && enc.Encode(d) != nil {
			return false
		}
	}
	if enc.Close() != nil {
		return false
	}
	a, err1 := values(in)
	c, err2 := values(b.Bytes())
	return err1 == nil && err2 == nil && reflect.DeepEqual(a, c)
}

var seeds = []string{
	"kind: Secret\nsecret: abc\nother: {secret: x, b: [1, 2]}\n",
	"items:\n- secret: 'it''s'\n  n: 1\n- secret: \"dq \\\"esc\\\" \\u00e9\\ttab\"\n  script: |\n    line one\n    secret: not a key here\n",
	"a:\n  secret: multi line\n    plain value\n  list:\n  - secret: |-\n      block\n      text\n  - secret: ~\n  - secret: true\n",
	"secret: >\n  folded\n---\n# comment\nsecret: x # note\n",
	"a: &x {secret: anchored}\nb: *x\n",
}

// FuzzPatch checks that Patch, where it takes a stream, gives valid YAML
// with the same values and the same count of changes as yaml.v3 does.
func FuzzPatch(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want, wantN, ok := markRules{}.Slow([]byte(in))
		if !ok {
			return
		}
		if want == nil {
			want = []byte(in)
		}
		wantV, err := values(want)
		if err != nil || !roundTrips([]byte(in)) {
			return // yaml.v3 does not write back what it read: no reference
		}
		got, changes, ok := Patch([]byte(in), markRules{})
		if !ok {
			return // declined (a directive, a stream it cannot split): callers take the yaml.v3 path
		}
		gotV, err := values(got)
		if err != nil {
			t.Fatalf("Patch wrote invalid YAML (%v):\n%s\ninput:\n%s", err, got, in)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Fatalf("values differ\ninput:\n%s\npatched:\n%s\nyaml.v3:\n%s", in, got, want)
		}
		n := 0
		for _, c := range changes {
			n += c
		}
		if n != wantN {
			t.Fatalf("%d changes, yaml.v3 made %d:\n%s", n, wantN, in)
		}
	})
}

// Patch keeps the layout of what it did not change, and a big List is
// patched item by item with the same result as yaml.v3 on the whole.
func TestPatchKeepsLayout(t *testing.T) {
	in := "a:   1   \nb: [x,  y]\nsecret: 'old'\nc: |\n  keep\n  this\n"
	got, changes, ok := Patch([]byte(in), markRules{})
	want := "a:   1   \nb: [x,  y]\nsecret: '[gone:3]'\nc: |\n  keep\n  this\n"
	if !ok || string(got) != want || len(changes) != 1 {
		t.Errorf("Patch = %q, %v, %v; want %q", got, changes, ok, want)
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nitems:\n")
	for i := 0; b.Len() < parallelList+parallelList/4; i++ {
		if i%300 == 7 {
			fmt.Fprintf(&b, "- name: odd-%d # a comment sends this item to yaml.v3\n  secret: s%d\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "- name: item-%d\n  secret: s%d\n  spec: {replicas: 1}\n", i, i)
	}
	b.WriteString("kind: List\nsecret: head\n")
	want2, wantN, _ := markRules{}.Slow([]byte(b.String()))
	got2, changes, ok := Patch([]byte(b.String()), markRules{})
	gv, _ := values(got2)
	wv, _ := values(want2)
	n := 0
	for _, c := range changes {
		n += c
	}
	if !ok || !reflect.DeepEqual(gv, wv) || n != wantN {
		t.Errorf("List patched item by item differs from yaml.v3 (ok %v, %d vs %d changes)", ok, n, wantN)
	}
}
