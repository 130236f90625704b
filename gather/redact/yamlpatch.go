package redact

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// patchYAML redacts a YAML stream document by document: a document with
// nothing the rules could trigger on is copied untouched, one in the fast
// subset is parsed with the fast parser and its changed scalars are patched into
// the original text (layout kept), anything else goes through yaml.v3.
// ok is false when a document does not parse at all.
func (r *Redactor) patchYAML(buf []byte, c Counts) (out []byte, ok bool) {
	docs, ok := splitYAMLDocs(buf)
	if !ok {
		return nil, false
	}
	lc := Counts{}
	var b []byte
	last := 0
	for _, d := range docs {
		doc := buf[d[0]:d[1]]
		rep, ok := r.patchDoc(doc, lc)
		if !ok {
			return nil, false
		}
		if rep == nil {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(buf)+len(buf)/8)
		}
		b = append(b, buf[last:d[0]]...)
		b = append(b, rep...)
		last = d[1]
	}
	c.Add(lc)
	if b == nil {
		return buf, true
	}
	return append(b, buf[last:]...), true
}

// splitYAMLDocs returns the spans of the documents between "---" lines.
// Directives, "..." and content after "---" are left to yaml.v3 (ok false).
func splitYAMLDocs(buf []byte) (docs [][2]int, ok bool) {
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

// patchDoc redacts one document. rep is nil when nothing changed.
func (r *Redactor) patchDoc(doc []byte, c Counts) (rep []byte, ok bool) {
	if len(doc) >= splitList {
		if rep, ok := r.patchList(doc, c); ok {
			return rep, true // each item was checked for triggers on its own
		}
	}
	if triggers(doc)&structTriggers == 0 {
		return nil, true
	}
	rep, _, changed, ok := r.patchFast(&fastYAML{}, nil, doc, 0, c, false)
	switch {
	case !ok:
		return r.treeDoc(doc, c)
	case !changed:
		return nil, true
	}
	return rep, true
}

// patchFast appends doc, redacted with the fast parser, to dst; ok is false
// if doc is outside its subset (or, with item, is not one mapping in a
// sequence), and then dst is returned as it was. split is an offset in doc at
// a line start; newSplit is where it ends up in the output.
func (r *Redactor) patchFast(p *fastYAML, dst, doc []byte, split int, c Counts, item bool) (out []byte, newSplit int, changed, ok bool) {
	root, scalars, err := p.parse(doc)
	if err != nil {
		return dst, 0, false, false
	}
	if root != nil && item && (root.Content[0].Kind != yaml.SequenceNode || len(root.Content[0].Content) != 1 ||
		root.Content[0].Content[0].Kind != yaml.MappingNode) {
		return dst, 0, false, false
	}
	lc := Counts{}
	if root != nil {
		wk := &walker{r: r, c: lc}
		wk.walk(root)
	}
	if lc.Total() == 0 {
		return append(dst, doc...), split, false, true
	}
	var todo []scalarAt
	for _, s := range scalars {
		if s.n.Value != s.value {
			if s.s < 0 {
				return dst, 0, false, false
			}
			todo = append(todo, s)
		}
	}
	slices.SortFunc(todo, func(a, b scalarAt) int { return a.s - b.s })
	out = dst
	start := len(dst)
	last := 0
	newSplit = split
	for _, s := range todo {
		out = append(out, doc[last:s.s]...)
		out = appendScalar(out, s)
		if s.s < split {
			newSplit = len(out) - start + (split - s.e)
		}
		last = s.e
	}
	c.Add(lc)
	return append(out, doc[last:]...), newSplit, true, true
}

// splitList is the size from which a kubectl List is redacted item by item.
const splitList = 64 << 10

// patchList redacts a document with a root "items:" sequence one item at a
// time, which bounds memory and lets one odd item take the yaml.v3 path
// alone. The walker treats every element under "items" alike, whatever the
// rest of the document says, so this changes nothing but speed.
func (r *Redactor) patchList(doc []byte, c Counts) (rep []byte, ok bool) {
	i := bytes.Index(doc, []byte("\nitems:\n"))
	if i < 0 {
		return nil, false
	}
	start := i + len("\nitems:\n")
	if start >= len(doc) || doc[start] != '-' {
		return nil, false // kubectl puts the dashes in column 0
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

	lc := Counts{}
	head := make([]byte, 0, start+len(doc)-end)
	head = append(append(head, doc[:start]...), doc[end:]...)
	hrep, split, hchanged, ok := r.patchFast(&fastYAML{}, nil, head, start, lc, false)
	if !ok {
		return nil, false
	}
	// Big Lists are cut into one run of items per CPU; tokens do not depend on order.
	runs := 1
	if len(doc) >= parallelList {
		runs = min(runtime.GOMAXPROCS(0), maxListWorkers, len(items)-1)
	}
	parts := make([]listPart, runs)
	var wg sync.WaitGroup
	for w := range parts {
		from, to := (len(items)-1)*w/runs, (len(items)-1)*(w+1)/runs
		wg.Go(func() { parts[w] = r.patchItems(doc, items[from:to+1]) })
	}
	wg.Wait()
	changed := hchanged
	for _, pt := range parts {
		if !pt.ok {
			return nil, false
		}
		changed = changed || pt.changed
	}
	if !changed {
		return nil, true
	}
	for _, pt := range parts {
		lc.Add(pt.c)
	}
	c.Add(lc)
	b := make([]byte, 0, len(doc)+len(doc)/8)
	b = append(b, hrep[:split]...)
	for _, pt := range parts {
		b = append(b, pt.out...)
	}
	return append(b, hrep[split:]...), true
}

// parallelList is the List size from which items are redacted on several CPUs.
const (
	parallelList   = 1 << 20
	maxListWorkers = 4
)

type listPart struct {
	out         []byte
	c           Counts
	changed, ok bool
}

// patchItems redacts the List items that start at the offsets in items
// (the last offset ends the last item).
func (r *Redactor) patchItems(doc []byte, items []int) listPart {
	pt := listPart{c: Counts{}, ok: true}
	p := &fastYAML{}
	b := make([]byte, 0, items[len(items)-1]-items[0]+(items[len(items)-1]-items[0])/8)
	for k := 0; k+1 < len(items); k++ {
		chunk := doc[items[k]:items[k+1]]
		if triggers(chunk)&structTriggers == 0 {
			b = append(b, chunk...)
			continue
		}
		var ich, ok bool
		if b, _, ich, ok = r.patchFast(p, b, chunk, 0, pt.c, true); !ok {
			irep, ok := r.treeItem(chunk, pt.c)
			if !ok {
				return listPart{}
			}
			if ich = irep != nil; !ich {
				irep = chunk
			}
			b = append(b, irep...)
		}
		pt.changed = pt.changed || ich
	}
	pt.out = b
	return pt
}

// treeItem is the yaml.v3 path for one List item ("- ..." in column 0).
func (r *Redactor) treeItem(chunk []byte, c Counts) (rep []byte, ok bool) {
	var d yaml.Node
	if err := yaml.Unmarshal(chunk, &d); err != nil || len(d.Content) != 1 || d.Content[0].Kind != yaml.SequenceNode ||
		len(d.Content[0].Content) != 1 || d.Content[0].Content[0].Kind != yaml.MappingNode {
		return nil, false
	}
	return r.treeDoc(chunk, c)
}

// treeDoc is the yaml.v3 path for one document.
func (r *Redactor) treeDoc(doc []byte, c Counts) (rep []byte, ok bool) {
	lc := Counts{}
	out, ok := r.redactYAMLTree(doc, lc)
	if !ok {
		return nil, false
	}
	if lc.Total() == 0 {
		return nil, true
	}
	c.Add(lc)
	return out, true
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
