package yamlfast

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// kindRules mark values like markRules and also every value under "data"
// in a mapping of kind Secret, a rule that needs the item's own context.
// seen logs each value replaced, as a redactor records what it replaced.
type kindRules struct {
	mu   *sync.Mutex
	seen *[]string
}

func newKindRules() kindRules { return kindRules{&sync.Mutex{}, new([]string)} }

func (k kindRules) Rewrite(root *yaml.Node) (int, bool) {
	n := k.mark(root)
	return n, n > 0
}

func (k kindRules) mark(n *yaml.Node) int {
	count := 0
	if n.Kind == yaml.MappingNode {
		secret := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			secret = secret || n.Content[i].Value == "kind" && n.Content[i+1].Value == "Secret"
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch key, v := n.Content[i].Value, n.Content[i+1]; {
			case key == "secret":
				count += k.replace(v)
			case key == "data" && secret && v.Kind == yaml.MappingNode:
				for j := 1; j < len(v.Content); j += 2 {
					count += k.replace(v.Content[j])
				}
			}
		}
	}
	for _, c := range n.Content {
		count += k.mark(c)
	}
	return count
}

func (k kindRules) replace(v *yaml.Node) int {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Tag == "!!bool" || strings.HasPrefix(v.Value, "[gone:") {
		return 0
	}
	k.mu.Lock()
	*k.seen = append(*k.seen, v.Value)
	k.mu.Unlock()
	v.Value, v.Tag, v.Style = fmt.Sprintf("[gone:%d]", len(v.Value)), "!!str", 0
	return 1
}

func (k kindRules) Slow(doc []byte) ([]byte, int, bool) { return slowMark(doc, k.mark) }

func (kindRules) Maybe(b []byte) bool { return bytes.Contains(b, []byte("ecret")) }

// result is what a patch did: the new document, its changes and the values
// the rules replaced on the way (sorted; items may run in parallel).
type result struct {
	out  string
	n    int
	seen []string
	ok   bool
}

func patchWith(doc []byte, patch func([]byte, Rules[int]) ([]Edit, []int, bool)) result {
	k := newKindRules()
	edits, changes, ok := patch(doc, k)
	var b bytes.Buffer
	Apply(&b, doc, edits)
	n := 0
	for _, c := range changes {
		n += c
	}
	slices.Sort(*k.seen)
	return result{b.String(), n, *k.seen, ok}
}

// items writes items until the document is at least size bytes; odd, if
// not empty, goes in as it is after the third item.
func items(b *strings.Builder, size int, item func(i int) string, odd string) {
	for i := 0; b.Len() < size; i++ {
		b.WriteString(item(i))
		if i == 2 {
			b.WriteString(odd)
		}
	}
}

var splitItems = []string{
	"- name: pod-%d\n  kind: Pod\n  spec:\n    secret: s%d\n    args: [--secret, x]\n",
	"- kind: Secret\n  data:\n    password: cGFzcw==%d\n    user: dXNlcg==\n  metadata: {name: s-%d}\n",
	"- {kind: Secret, data: {k: v%d}, n: %d}\n",
	"- kind: ConfigMap\n  data:\n    file: |\n      secret: in a block %d\n      line %d\n",
}

func splitItem(i int) string {
	f := splitItems[i%len(splitItems)]
	return fmt.Sprintf(f, i, i)
}

// oddLines put an item or the document outside the fast subset, or outside YAML.
var oddLines = []string{
	"",
	"- kind: Secret # a comment\n  data: {k: commented}\n",
	"- &a {kind: Secret, data: {k: anchored}}\n- *a\n",
	"- secret: >\n    folded\n",
	"- plain scalar item\n",
	"-\n",
	"- secret: 'unterminated\n",
	"junk in column zero\n",
	"  mis: indented\n",
	"- secret: \"multi\n    line\"\n",
	"- tab:\tvalue\n",
}

// A top-level sequence patched item by item gives what it gives patched
// whole, byte for byte, with the same values replaced on the way (none
// twice, none when the document goes to Slow); so does a List whose items
// are all in the fast subset.
func TestSplitMatchesWholeDocument(t *testing.T) {
	for _, size := range []int{splitList, parallelList + parallelList/4} {
		for _, odd := range oddLines {
			var seq strings.Builder
			items(&seq, size, splitItem, odd)
			checkSplit(t, fmt.Sprintf("sequence of %d bytes with %q", size, odd), seq.String())
		}
		var list strings.Builder
		list.WriteString("apiVersion: v1\nitems:\n")
		items(&list, size, splitItem, "")
		list.WriteString("kind: List\nmetadata:\n  secret: head\n")
		checkSplit(t, fmt.Sprintf("List of %d bytes", size), list.String())
	}
}

func checkSplit(t *testing.T, name, doc string) {
	t.Helper()
	split := patchWith([]byte(doc), patchDoc[int])
	whole := patchWith([]byte(doc), patchWhole[int])
	if !reflect.DeepEqual(split, whole) {
		t.Errorf("%s: split and whole differ: ok %v/%v, %d/%d changes, %d/%d values seen, same output %v",
			name, split.ok, whole.ok, split.n, whole.n, len(split.seen), len(whole.seen), split.out == whole.out)
	}
	if whole.ok && whole.n == 0 {
		t.Errorf("%s: nothing changed", name)
	}
}

// FuzzSplit checks TestSplitMatchesWholeDocument's claim for a top-level
// sequence of any item, with any text after its third item.
func FuzzSplit(f *testing.F) {
	for i, odd := range oddLines {
		f.Add(splitItems[i%len(splitItems)], odd)
	}
	f.Fuzz(func(t *testing.T, item, odd string) {
		if !strings.HasPrefix(item, "- ") || !strings.HasSuffix(item, "\n") {
			return
		}
		var b strings.Builder
		items(&b, splitList, func(i int) string { return strings.ReplaceAll(item, "%d", fmt.Sprint(i)) }, odd)
		doc := []byte(b.String())
		split, whole := patchWith(doc, patchDoc[int]), patchWith(doc, patchWhole[int])
		if !reflect.DeepEqual(split, whole) {
			t.Fatalf("split and whole differ: ok %v/%v, %d/%d changes, %d/%d values seen\nitem %q, odd %q\nsplit:\n%.2000s\nwhole:\n%.2000s",
				split.ok, whole.ok, split.n, whole.n, len(split.seen), len(whole.seen), item, odd, split.out, whole.out)
		}
	})
}
