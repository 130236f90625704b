// Package yamlfast redacts block-style YAML, the subset kubectl, tctl and
// most tools write, at close to copying speed: a fast parser builds the same
// yaml.v3 node tree as yaml.v3 for each document (or each item of a large
// List or top-level sequence, on several CPUs, so that the trees in memory
// are an item's, not a whole document's), the caller's Rules change scalar
// values in the tree, and the changed values are patched into the original
// text, so that everything else keeps its layout. A document outside the
// subset goes to the Rules' own yaml.v3 path.
//
//	out, changes, ok := yamlfast.Patch(buf, rules)
//
// or, to write a large stream out without a patched copy of it,
//
//	edits, changes, ok := yamlfast.Edits(buf, rules)
//	err := yamlfast.Apply(w, buf, edits)
//
// Patch is about fourteen times faster than decoding and re-encoding with
// yaml.v3; its fuzz tests check that it gives the same values as the yaml.v3
// path wherever it takes a document, and the same bytes item by item as
// whole.
package yamlfast

import (
	"bytes"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Rules change document trees for Patch; C is what one change did (the
// caller's redaction counts). The methods are called from several goroutines.
type Rules[C any] interface {
	// Rewrite changes scalar values of the tree in place and reports
	// whether it changed anything.
	Rewrite(root *yaml.Node) (c C, changed bool)
	// Slow handles one document, or one List item ("- ..." in column 0),
	// outside the fast subset, with yaml.v3: rep is nil when nothing
	// changed, ok false when it does not parse.
	Slow(doc []byte) (rep []byte, c C, ok bool)
	// Maybe is a prefilter: false when nothing in b could change.
	Maybe(b []byte) bool
}

// Patch applies rules to a YAML stream document by document: a document
// Maybe rejects is copied untouched, one in the fast subset is parsed with
// the fast parser and its changed scalars are patched into the original
// text, anything else goes to Slow. It returns the new stream and the
// changes it used; ok is false when a document does not parse at all.
func Patch[C any](buf []byte, rules Rules[C]) (out []byte, changes []C, ok bool) {
	edits, changes, ok := Edits(buf, rules)
	if !ok {
		return nil, nil, false
	}
	if len(edits) == 0 {
		return buf, nil, true
	}
	var b bytes.Buffer
	b.Grow(len(buf) + len(buf)/8)
	Apply(&b, buf, edits) // a bytes.Buffer does not fail
	return b.Bytes(), changes, true
}

// An Edit replaces buf[Start:End] with New.
type Edit struct {
	Start, End int
	New        []byte
}

// Edits is Patch without the copy: it returns what Patch would change in
// buf, in order, for Apply to write. A large List or top-level sequence is
// parsed one item at a time, so memory stays that of buf and one item's
// tree per CPU, not a tree of the whole document.
func Edits[C any](buf []byte, rules Rules[C]) (edits []Edit, changes []C, ok bool) {
	docs, ok := splitDocs(buf)
	if !ok {
		return nil, nil, false
	}
	for _, d := range docs {
		es, cs, ok := patchDoc(buf[d[0]:d[1]], rules)
		if !ok {
			return nil, nil, false
		}
		for i := range es {
			es[i].Start += d[0]
			es[i].End += d[0]
		}
		if edits == nil {
			edits = es // a List's edits are many: not copied again
		} else {
			edits = append(edits, es...)
		}
		changes = append(changes, cs...)
	}
	return edits, changes, true
}

// Apply writes buf with edits (from Edits on buf) to w.
func Apply(w io.Writer, buf []byte, edits []Edit) error {
	last := 0
	for _, e := range edits {
		if _, err := w.Write(buf[last:e.Start]); err != nil {
			return err
		}
		if _, err := w.Write(e.New); err != nil {
			return err
		}
		last = e.End
	}
	_, err := w.Write(buf[last:])
	return err
}

// splitDocs returns the spans of the documents between "---" lines.
// Directives, "..." and content after "---" are left to yaml.v3 (ok false).
func splitDocs(buf []byte) (docs [][2]int, ok bool) {
	start := 0
	for i := 0; i < len(buf); {
		e := bytes.IndexByte(buf[i:], '\n')
		if e < 0 {
			e = len(buf)
		} else {
			e += i
		}
		l := buf[i:e]
		switch {
		case len(l) > 0 && l[0] == '%':
			return nil, false
		case bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("...")):
			if len(l) == 3 || l[3] == ' ' || l[3] == '\t' {
				if l[0] == '.' || len(bytes.TrimSpace(l[3:])) > 0 {
					return nil, false
				}
				docs = append(docs, [2]int{start, i})
				start = min(e+1, len(buf))
			}
		}
		i = e + 1
	}
	return append(docs, [2]int{start, len(buf)}), true
}

// patchDoc patches one document; edits are offsets in doc.
func patchDoc[C any](doc []byte, rules Rules[C]) (edits []Edit, changes []C, ok bool) {
	if len(doc) >= splitList {
		if edits, cs, ok := patchList(doc, rules); ok {
			return edits, cs, true
		}
	}
	return patchWhole(doc, rules)
}

// patchWhole patches a document in one piece.
func patchWhole[C any](doc []byte, rules Rules[C]) (edits []Edit, changes []C, ok bool) {
	if !rules.Maybe(doc) {
		return nil, nil, true
	}
	edits, c, changed, ok := patchFast(&parser{}, doc, rules, false)
	switch {
	case !ok:
		rep, c, ok := rules.Slow(doc)
		if !ok || rep == nil {
			return nil, nil, ok
		}
		return []Edit{{0, len(doc), rep}}, []C{c}, true
	case !changed:
		return nil, nil, true
	}
	return edits, []C{c}, true
}

// patchFast parses doc with the fast parser, applies rules and returns the
// changed scalars as edits (offsets in doc); ok is false if doc is outside
// its subset (or, with item, is not one mapping in a sequence).
func patchFast[C any](p *parser, doc []byte, rules Rules[C], item bool) (edits []Edit, c C, changed, ok bool) {
	root, scalars, err := p.parse(doc)
	if err != nil {
		return nil, c, false, false
	}
	if item && !oneMapping(root) {
		return nil, c, false, false
	}
	if root != nil {
		c, changed = rules.Rewrite(root)
	}
	if !changed {
		return nil, c, false, true
	}
	var arena []byte // one allocation for the new texts of a document
	for _, s := range scalars {
		if s.n.Value != s.value {
			if s.s < 0 {
				return nil, c, false, false
			}
			at := len(arena)
			arena = appendScalar(arena, s)
			edits = append(edits, Edit{s.s, s.e, arena[at:len(arena):len(arena)]})
		}
	}
	slices.SortFunc(edits, func(a, b Edit) int { return a.Start - b.Start })
	return edits, c, true, true
}

// splitList is the size from which a List or a top-level sequence is
// patched item by item.
const splitList = 64 << 10

// patchList patches a document that is a kubectl List (a root "items:"
// sequence with its dashes in column 0) or a top-level sequence one item
// at a time, which bounds memory to an item's tree. Rules must treat every
// element of the sequence alike, whatever the rest of the document says,
// so that this changes nothing but speed and memory.
//
// A List item outside the fast subset takes the yaml.v3 path alone, and
// one Maybe rejects is not parsed. A top-level sequence gives exactly what
// the whole document would: every item is parsed and rewritten, and an item
// outside the fast subset sends the whole document to Slow (ok false).
func patchList[C any](doc []byte, rules Rules[C]) (edits []Edit, changes []C, ok bool) {
	start := 0
	list := !bytes.HasPrefix(doc, []byte("- ")) && !bytes.HasPrefix(doc, []byte("-\n"))
	if !list && !rules.Maybe(doc) {
		return nil, nil, true
	}
	if list {
		i := bytes.Index(doc, []byte("\nitems:\n"))
		if i < 0 {
			return nil, nil, false
		}
		start = i + len("\nitems:\n")
		if start >= len(doc) || doc[start] != '-' {
			return nil, nil, false // kubectl puts the dashes in column 0
		}
	}
	// Items start at "- " in column 0 and end at the next line in column 0 that is not a dash.
	var items []int
	end := len(doc)
	for at := start; at < len(doc) && end == len(doc); {
		e := bytes.IndexByte(doc[at:], '\n')
		if e < 0 {
			e = len(doc)
		} else {
			e += at + 1
		}
		switch c := doc[at]; {
		case c == '-' && (at+1 == len(doc) || doc[at+1] == ' ' || doc[at+1] == '\n'):
			items = append(items, at)
		case c != ' ' && c != '\n':
			end = at
		}
		at = e
	}
	items = append(items, end)
	if !list && end != len(doc) {
		return nil, nil, false // more after the sequence: not YAML, yaml.v3 says why
	}

	var hchanged bool
	if list {
		head := make([]byte, 0, start+len(doc)-end)
		head = append(append(head, doc[:start]...), doc[end:]...)
		var hc C
		var hedits []Edit
		hedits, hc, hchanged, ok = patchFast(&parser{}, head, rules, false)
		if !ok {
			return nil, nil, false
		}
		if hchanged {
			changes = append(changes, hc)
		}
		for _, e := range hedits {
			if e.Start >= start { // in the part after the items
				e.Start, e.End = e.Start+end-start, e.End+end-start
			}
			edits = append(edits, e)
		}
	} else {
		// Rewriting has effects (a redactor records what it replaced), so every
		// item is parsed before any is rewritten: one outside the fast subset
		// sends the document to Slow untouched, as it would unsplit.
		for _, pt := range inParts(doc, items, func(its []int) listPart[C] { return checkItems[C](doc, its) }) {
			if !pt.ok {
				return nil, nil, false
			}
		}
	}
	parts := inParts(doc, items, func(its []int) listPart[C] { return patchItems(doc, its, rules, list) })
	changed := hchanged
	for _, pt := range parts {
		if !pt.ok {
			return nil, nil, false
		}
		changed = changed || len(pt.changes) > 0
	}
	if !changed {
		return nil, nil, true
	}
	// The head's edits before the items, the items' edits, the head's edits after them.
	n, total := 0, len(edits)
	for n < len(edits) && edits[n].Start < start {
		n++
	}
	for _, pt := range parts {
		total += len(pt.edits)
	}
	out := make([]Edit, 0, total)
	out = append(out, edits[:n]...)
	for _, pt := range parts {
		out = append(out, pt.edits...)
		changes = append(changes, pt.changes...)
	}
	return append(out, edits[n:]...), changes, true
}

// parallelList is the List size from which items are patched on several CPUs.
const (
	parallelList   = 1 << 20
	maxListWorkers = 4
)

// inParts runs f over the items, cut into one run of items per CPU for a
// big document; the result does not depend on order.
func inParts[C any](doc []byte, items []int, f func(items []int) listPart[C]) []listPart[C] {
	runs := 1
	if len(doc) >= parallelList {
		runs = min(runtime.GOMAXPROCS(0), maxListWorkers, len(items)-1)
	}
	parts := make([]listPart[C], runs)
	var wg sync.WaitGroup
	for w := range parts {
		from, to := (len(items)-1)*w/runs, (len(items)-1)*(w+1)/runs
		wg.Go(func() { parts[w] = f(items[from : to+1]) })
	}
	wg.Wait()
	return parts
}

type listPart[C any] struct {
	edits   []Edit
	changes []C
	ok      bool
}

// patchItems patches the items that start at the offsets in items (the
// last offset ends the last item); list items are checked by Maybe and may
// take the yaml.v3 path one by one (see patchList).
func patchItems[C any](doc []byte, items []int, rules Rules[C], list bool) listPart[C] {
	pt := listPart[C]{ok: true}
	p := &parser{}
	for k := 0; k+1 < len(items); k++ {
		chunk := doc[items[k]:items[k+1]]
		if list && !rules.Maybe(chunk) {
			continue
		}
		edits, c, changed, ok := patchFast(p, chunk, rules, true)
		if !ok {
			var irep []byte
			if !list {
				return listPart[C]{}
			}
			if irep, c, ok = slowItem(chunk, rules); !ok {
				return listPart[C]{}
			}
			if changed = irep != nil; changed {
				edits = []Edit{{0, len(chunk), irep}}
			}
		}
		if changed {
			for _, e := range edits {
				pt.edits = append(pt.edits, Edit{e.Start + items[k], e.End + items[k], e.New})
			}
			pt.changes = append(pt.changes, c)
		}
	}
	return pt
}

// checkItems reports whether all the items are single mappings in the fast subset.
func checkItems[C any](doc []byte, items []int) listPart[C] {
	p := &parser{}
	for k := 0; k+1 < len(items); k++ {
		if root, _, err := p.parse(doc[items[k]:items[k+1]]); err != nil || !oneMapping(root) {
			return listPart[C]{}
		}
	}
	return listPart[C]{ok: true}
}

// oneMapping reports a document (possibly empty) that is a sequence of one mapping: a List item.
func oneMapping(root *yaml.Node) bool {
	return root == nil || root.Content[0].Kind == yaml.SequenceNode && len(root.Content[0].Content) == 1 &&
		root.Content[0].Content[0].Kind == yaml.MappingNode
}

// slowItem is the yaml.v3 path for one List item ("- ..." in column 0).
func slowItem[C any](chunk []byte, rules Rules[C]) (rep []byte, c C, ok bool) {
	var d yaml.Node
	if err := yaml.Unmarshal(chunk, &d); err != nil || len(d.Content) != 1 || d.Content[0].Kind != yaml.SequenceNode ||
		len(d.Content[0].Content) != 1 || d.Content[0].Content[0].Kind != yaml.MappingNode {
		return nil, c, false
	}
	return rules.Slow(chunk)
}

// appendScalar writes s's new value in place of its old text: as a literal
// block where the old one was and the value allows, else single-line quoted.
func appendScalar(b []byte, s scalarAt) []byte {
	v := s.n.Value
	if s.indent > 0 && literalOK(v) {
		body, chomp := v, "-"
		if strings.HasSuffix(v, "\n") {
			body, chomp = v[:len(v)-1], ""
		}
		b = append(b, '|')
		b = append(b, chomp...)
		for l := range strings.SplitSeq(body, "\n") {
			b = append(b, '\n')
			if l != "" {
				b = append(b, strings.Repeat(" ", s.indent)...)
				b = append(b, l...)
			}
		}
		return b
	}
	single := true
	for _, r := range v {
		if !yamlPrintable(r) {
			single = false
			break
		}
	}
	if single {
		b = append(b, '\'')
		b = append(b, strings.ReplaceAll(v, "'", "''")...)
		return append(b, '\'')
	}
	return appendDoubleQuoted(b, v)
}

// literalOK reports a value a "|" or "|-" block holds exactly.
func literalOK(v string) bool {
	if v == "" || v[0] == ' ' || v[0] == '\n' || strings.HasSuffix(v, "\n\n") || !strings.Contains(v, "\n") {
		return false
	}
	for l := range strings.SplitSeq(strings.TrimSuffix(v, "\n"), "\n") {
		if l != "" && strings.TrimLeft(l, " ") == "" {
			return false
		}
		for _, r := range l {
			if !yamlPrintable(r) {
				return false
			}
		}
	}
	return true
}

func appendDoubleQuoted(b []byte, v string) []byte {
	b = append(b, '"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == utf8.RuneError:
			b = append(b, `\uFFFD`...)
		case yamlPrintable(r):
			b = utf8.AppendRune(b, r)
		case r <= 0xff:
			b = append(b, '\\', 'x', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		}
	}
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
