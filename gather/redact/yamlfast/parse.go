package yamlfast

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// A parser for the plain block-style YAML that kubectl, tctl and most tools
// write. It builds the same yaml.Node trees as yaml.v3, ten times faster, and
// remembers where each scalar sits so that a changed value can be patched into
// the original text. Anything outside the subset (comments, anchors, tags,
// folded scalars, multi-line flow collections, tabs, directives, ...) is
// refused and the caller falls back to yaml.v3.

var errUnsupported = errors.New("YAML outside the fast subset")

// scalarAt is a scalar value node and its source span.
type scalarAt struct {
	n      *yaml.Node
	s, e   int    // span in the document; s < 0 for an implicit null
	value  string // Value as parsed, to see whether the walker changed it
	indent int    // literal blocks: content indentation
}

type parser struct {
	src     []byte
	pos     int // start of the line to read next
	depth   int
	scalars []scalarAt
	nodes   []yaml.Node  // slab
	kids    []*yaml.Node // slab for Content
	stack   []*yaml.Node // children being collected
	strs    map[string]string
}

// str interns mapping keys, which repeat in every item of a List.
func (p *parser) str(b []byte) string {
	if len(b) > 24 {
		return string(b)
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.strs == nil {
		p.strs = map[string]string{}
	}
	if len(p.strs) < 1<<12 {
		p.strs[s] = s
	}
	return s
}

// maxFastDepth bounds recursion; deeper documents go to yaml.v3.
const maxFastDepth = 200

// parse parses one document (no "---" lines). root is nil for an
// empty document. The nodes live in p's slabs until the next parse.
func (p *parser) parse(src []byte) (root *yaml.Node, scalars []scalarAt, err error) {
	if !fastChars(src) {
		return nil, nil, errUnsupported
	}
	p.src, p.pos, p.depth = src, 0, 0
	p.scalars, p.nodes, p.kids, p.stack = p.scalars[:0], p.nodes[:0], p.kids[:0], p.stack[:0]
	defer func() {
		if e := recover(); e != nil {
			if e != errUnsupported {
				panic(e)
			}
			root, scalars, err = nil, nil, errUnsupported
		}
	}()
	ls, ind, ok := p.nextContent()
	if !ok {
		return nil, nil, nil
	}
	// The root must be a collection; a lone scalar document is rare.
	n := p.node(ls+ind, -1, true, false)
	if n.Kind == yaml.ScalarNode {
		p.fail()
	}
	if _, _, ok := p.nextContent(); ok {
		p.fail() // content less indented than the root
	}
	return p.newNode(yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}), p.scalars, nil
}

// newNode allocates from a slab: a List has millions of nodes. The first
// slab fits a small document (a ConfigMap's embedded file, a List item).
func (p *parser) newNode(n yaml.Node) *yaml.Node {
	if len(p.nodes) == cap(p.nodes) {
		size := 1024
		if cap(p.nodes) == 0 {
			size = min(size, len(p.src)/16+8)
		}
		p.nodes = make([]yaml.Node, 0, size)
	}
	p.nodes = append(p.nodes, n)
	return &p.nodes[len(p.nodes)-1]
}

// children moves the nodes pushed on the stack since mark into a slab-backed Content.
func (p *parser) children(mark int) []*yaml.Node {
	k := p.stack[mark:]
	if len(p.kids)+len(k) > cap(p.kids) {
		size := 4096
		if cap(p.kids) == 0 {
			size = min(size, len(p.src)/8+8)
		}
		p.kids = make([]*yaml.Node, 0, max(size, len(k)))
	}
	i := len(p.kids)
	p.kids = append(p.kids, k...)
	p.stack = p.stack[:mark]
	return p.kids[i:len(p.kids):len(p.kids)]
}

// fastChars refuses tabs, CR, control characters and the Unicode line
// breaks and BOM that YAML treats specially.
func fastChars(b []byte) bool {
	high := false
	for _, c := range b {
		if c < 0x20 && c != '\n' || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			high = true
		}
	}
	if !high {
		return true
	}
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r >= 0x80 && !yamlPrintable(r) {
			return false
		}
	}
	return true
}

// yamlPrintable is YAML's printable set minus NEL, LS, PS and BOM.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f:
		return false
	case r < 0x80:
		return true
	case r < 0xa0:
		return false
	case r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff:
		return false
	case r >= 0xd800 && r <= 0xdfff:
		return false
	}
	return r <= 0x10ffff
}

func (p *parser) fail() { panic(errUnsupported) }

func (p *parser) lineEnd(i int) int {
	if j := bytes.IndexByte(p.src[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(p.src)
}

// nextLine moves past the line holding offset i.
func (p *parser) nextLine(i int) {
	e := p.lineEnd(i)
	if e < len(p.src) {
		e++
	}
	p.pos = e
}

func (p *parser) spaces(i int) int {
	for i < len(p.src) && p.src[i] == ' ' {
		i++
	}
	return i
}

// nextContent skips blank lines and returns the next content line's start and indent.
func (p *parser) nextContent() (ls, ind int, ok bool) {
	for p.pos < len(p.src) {
		ls = p.pos
		i := p.spaces(ls)
		if i == len(p.src) {
			p.pos = i
			return 0, 0, false
		}
		if p.src[i] == '\n' {
			p.pos = i + 1
			continue
		}
		if p.src[i] == '#' {
			p.fail() // comments: yaml.v3 keeps them with the nodes
		}
		return ls, i - ls, true
	}
	return 0, 0, false
}

// endOfLine requires nothing but spaces from i to the end of the line and moves past it.
func (p *parser) endOfLine(i int) {
	i = p.spaces(i)
	if i < len(p.src) && p.src[i] != '\n' {
		p.fail()
	}
	p.nextLine(i)
}

func (p *parser) blankAt(i int) bool { return i >= len(p.src) || p.src[i] == ' ' || p.src[i] == '\n' }

// node parses the node whose first character is at offset at on the line
// starting at p.pos, inside a block collection indented parent. compact allows
// a mapping or sequence to start mid-line (after "- " or at line start);
// mapValue allows a sequence at the parent's indentation on the next lines.
func (p *parser) node(at, parent int, compact, mapValue bool) *yaml.Node {
	p.depth++
	if p.depth > maxFastDepth {
		p.fail()
	}
	defer func() { p.depth-- }()
	ls := p.pos
	col := at - ls
	if at >= len(p.src) || p.src[at] == '\n' {
		p.nextLine(at)
		nls, ind, ok := p.nextContent()
		switch {
		case ok && ind > parent:
			return p.node(nls+ind, parent, true, false)
		case ok && ind == parent && mapValue && p.src[nls+ind] == '-' && p.blankAt(nls+ind+1):
			return p.seq(ind)
		}
		n := p.newNode(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"})
		p.scalars = append(p.scalars, scalarAt{n: n, s: -1, e: -1})
		return n
	}
	switch c := p.src[at]; c {
	case '-':
		if p.blankAt(at + 1) {
			if !compact {
				p.fail()
			}
			return p.seq(col)
		}
	case '[', '{':
		f := flowParser{p: p, i: at}
		n := f.node()
		p.endOfLine(f.i)
		return n
	case '|':
		return p.literal(at, parent)
	case '"', '\'':
		n, e := p.quoted(at, parent)
		if i := p.spaces(e); i < len(p.src) && p.src[i] == ':' && p.blankAt(i+1) {
			if !compact {
				p.fail()
			}
			p.scalars = p.scalars[:len(p.scalars)-1]
			p.pos = ls
			return p.mapping(col, at)
		}
		p.endOfLine(e)
		return n
	case '>', '&', '*', '!', '?', '%', '@', '`', '#', ',', ']', '}', ':':
		p.fail()
	}
	// A plain scalar, or the first key of a mapping.
	le := p.lineEnd(at)
	line := p.src[at:le]
	if k := keyColon(line); k >= 0 {
		if !compact {
			p.fail()
		}
		return p.mapping(col, at)
	}
	if bytes.Contains(line, []byte(" #")) {
		p.fail()
	}
	e := at + len(bytes.TrimRight(line, " "))
	val := string(p.src[at:e])
	p.nextLine(le)
	// Continuation lines of a multi-line plain scalar are folded with spaces.
	var folded []string
	for p.pos < len(p.src) {
		ls := p.pos
		i := p.spaces(ls)
		if i-ls <= parent || i >= len(p.src) || p.src[i] == '\n' {
			break
		}
		cle := p.lineEnd(i)
		cl := p.src[i:cle]
		if keyColon(cl) >= 0 || bytes.Contains(cl, []byte(" #")) || cl[0] == '#' || cl[0] == '-' {
			p.fail()
		}
		if folded == nil {
			folded = []string{val}
		}
		cl = bytes.TrimRight(cl, " ")
		folded = append(folded, string(cl))
		e = i + len(cl)
		p.nextLine(cle)
	}
	if folded != nil {
		val = strings.Join(folded, " ")
	}
	n := p.newNode(yaml.Node{Kind: yaml.ScalarNode, Tag: plainTag(val), Value: val})
	p.scalars = append(p.scalars, scalarAt{n: n, s: at, e: e, value: val})
	return n
}

// keyColon returns the offset of the ": " (or final ':') that ends a plain
// mapping key in line, or -1.
func keyColon(line []byte) int {
	for i := 0; i < len(line); i++ {
		if line[i] == ':' && (i+1 == len(line) || line[i+1] == ' ') {
			return i
		}
		if line[i] == '#' && i > 0 && line[i-1] == ' ' {
			return -1 // a comment; the caller refuses it
		}
	}
	return -1
}

// plainTag resolves a plain scalar's tag as far as the redaction rules care:
// null, bool and merge exactly, anything number-like as !!int.
func plainTag(v string) string {
	switch v {
	case "", "~", "null", "Null", "NULL":
		return "!!null"
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool"
	case "<<":
		return "!!merge"
	}
	if c := v[0]; c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' {
		for i := 0; i < len(v); i++ {
			if !strings.ContainsRune("0123456789_+-.eExXoObBabcdefABCDEF:tTzZ ", rune(v[i])) {
				return "!!str"
			}
		}
		return "!!int" // or float or timestamp: no text rule can match these
	}
	return "!!str"
}

// seq parses a block sequence whose dashes are in column col; p.pos is at the first entry's line.
func (p *parser) seq(col int) *yaml.Node {
	n := p.newNode(yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"})
	mark := len(p.stack)
	for {
		ls := p.pos
		at := p.spaces(ls + col + 1)
		p.stack = append(p.stack, p.node(at, col, true, false))
		nls, ind, ok := p.nextContent()
		if !ok || ind < col || p.src[nls+ind] != '-' || !p.blankAt(nls+ind+1) {
			if ok && ind > col {
				p.fail()
			}
			n.Content = p.children(mark) // at a line less indented, or the parent mapping goes on
			return n
		}
		if ind > col {
			p.fail()
		}
	}
}

// mapping parses a block mapping in column col whose first key starts at offset at.
func (p *parser) mapping(col, at int) *yaml.Node {
	n := p.newNode(yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
	mark := len(p.stack)
	for {
		var k *yaml.Node
		var vAt int
		switch p.src[at] {
		case '"', '\'':
			var e int
			k, e = p.quoted(at, col)
			p.scalars = p.scalars[:len(p.scalars)-1]
			if p.lineEnd(at) < e {
				p.fail() // multi-line key
			}
			i := p.spaces(e)
			if i >= len(p.src) || p.src[i] != ':' || !p.blankAt(i+1) {
				p.fail()
			}
			vAt = p.spaces(i + 1)
		case '-', '[', '{', '|', '>', '&', '*', '!', '?', '%', '@', '`', '#', ',', ']', '}', ':':
			p.fail()
		default:
			le := p.lineEnd(at)
			kc := keyColon(p.src[at:le])
			if kc < 0 || kc > 1024 {
				p.fail()
			}
			kv := p.str(bytes.TrimRight(p.src[at:at+kc], " "))
			if kv == "<<" || kv == "" {
				p.fail()
			}
			k = p.newNode(yaml.Node{Kind: yaml.ScalarNode, Tag: plainTag(kv), Value: kv})
			vAt = p.spaces(at + kc + 1)
		}
		p.stack = append(p.stack, k)
		p.stack = append(p.stack, p.node(vAt, col, false, true))
		nls, ind, ok := p.nextContent()
		if !ok || ind < col {
			n.Content = p.children(mark)
			return n
		}
		if ind > col {
			p.fail()
		}
		at = nls + ind
		if p.src[at] == '-' && p.blankAt(at+1) {
			p.fail() // a sequence after a mapping entry at the same indentation
		}
	}
}

// literal parses a literal block scalar ("|" or "|-") whose header is at at.
func (p *parser) literal(at, parent int) *yaml.Node {
	strip := false
	i := at + 1
	if i < len(p.src) && p.src[i] == '-' {
		strip = true
		i++
	}
	p.endOfLine(i) // "|+", indentation indicators and comments go to yaml.v3
	var lines []string
	ind := -1
	e := -1
	blank := 0
	for p.pos < len(p.src) {
		ls := p.pos
		j := p.spaces(ls)
		if j >= len(p.src) || p.src[j] == '\n' {
			if ind >= 0 && j-ls > ind || ind < 0 && j-ls > 0 {
				p.fail() // whitespace-only lines that might be content
			}
			blank++
			p.nextLine(j)
			continue
		}
		if ind < 0 {
			ind = j - ls
			if ind <= parent || ind < 1 {
				p.fail() // empty block
			}
		}
		if j-ls < ind {
			break
		}
		for ; blank > 0; blank-- {
			lines = append(lines, "")
		}
		le := p.lineEnd(j)
		if le == len(p.src) {
			p.fail() // last line without a line break: chomping differs
		}
		lines = append(lines, string(p.src[ls+ind:le]))
		e = le
		p.nextLine(le)
	}
	if ind < 0 {
		p.fail()
	}
	// Trailing blank lines are not part of a clipped or stripped value; leave p.pos after them.
	val := strings.Join(lines, "\n")
	if !strip {
		val += "\n"
	}
	n := p.newNode(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.LiteralStyle, Value: val})
	p.scalars = append(p.scalars, scalarAt{n: n, s: at, e: e, value: val, indent: ind})
	return n
}

// quoted parses a single- or double-quoted scalar at at, possibly over
// several lines, and returns it with the offset after the closing quote.
func (p *parser) quoted(at, parent int) (*yaml.Node, int) {
	q := p.src[at]
	var b []byte
	keep := 0 // length of b without trailing raw spaces
	i := at + 1
	for {
		if i >= len(p.src) {
			p.fail()
		}
		c := p.src[i]
		switch {
		case c == q && q == '\'' && i+1 < len(p.src) && p.src[i+1] == '\'':
			b = append(b, '\'')
			keep = len(b)
			i += 2
		case c == q:
			style := yaml.DoubleQuotedStyle
			if q == '\'' {
				style = yaml.SingleQuotedStyle
			}
			val := string(b)
			n := p.newNode(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: val})
			p.scalars = append(p.scalars, scalarAt{n: n, s: at, e: i + 1, value: val})
			return n, i + 1
		case c == '\\' && q == '"':
			if i+1 < len(p.src) && p.src[i+1] == '\n' {
				i = p.fold(i+1, parent, &b, true)
				keep = len(b)
				continue
			}
			n, r := yamlEscape(p.src[i+1:])
			if n == 0 {
				p.fail()
			}
			b = utf8.AppendRune(b, r)
			keep = len(b)
			i += 1 + n
		case c == '\n':
			b = b[:keep]
			i = p.fold(i, parent, &b, false)
			keep = len(b)
		default:
			b = append(b, c)
			if c != ' ' {
				keep = len(b)
			}
			i++
		}
	}
}

// fold handles the line break at i inside a quoted scalar: a single break
// becomes a space (nothing after an escaped break), each empty line a newline.
func (p *parser) fold(i, parent int, b *[]byte, escaped bool) int {
	empty := 0
	for {
		ls := i + 1
		j := p.spaces(ls)
		if j < len(p.src) && p.src[j] != '\n' && (j-ls <= parent || j == ls && (bytes.HasPrefix(p.src[j:], []byte("---")) || bytes.HasPrefix(p.src[j:], []byte("...")))) {
			p.fail() // continuation lines must be indented
		}
		if j < len(p.src) && p.src[j] == '\n' {
			empty++
			i = j
			continue
		}
		switch {
		case empty > 0:
			*b = append(*b, strings.Repeat("\n", empty)...)
		case !escaped:
			*b = append(*b, ' ')
		}
		return j
	}
}

var simpleEscapes = map[byte]rune{'0': 0, 'a': 7, 'b': 8, 't': 9, 'n': 10, 'v': 11, 'f': 12, 'r': 13, 'e': 0x1b,
	' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85, '_': 0xa0, 'L': 0x2028, 'P': 0x2029}

// yamlEscape decodes the escape after a backslash; n is the bytes used, 0 if invalid.
func yamlEscape(s []byte) (n int, r rune) {
	if len(s) == 0 {
		return 0, 0
	}
	if r, ok := simpleEscapes[s[0]]; ok {
		return 1, r
	}
	var w int
	switch s[0] {
	case 'x':
		w = 2
	case 'u':
		w = 4
	case 'U':
		w = 8
	default:
		return 0, 0
	}
	if len(s) < 1+w {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(s[1:1+w]), 16, 32)
	if err != nil || v > 0x10ffff || v >= 0xd800 && v <= 0xdfff {
		return 0, 0
	}
	return 1 + w, rune(v)
}

// flowParser parses a flow collection that ends on its first line.
type flowParser struct {
	p *parser
	i int
}

func (f *flowParser) skip() {
	f.i = f.p.spaces(f.i)
	if f.i >= len(f.p.src) || f.p.src[f.i] == '\n' || f.p.src[f.i] == '#' {
		f.p.fail()
	}
}

func (f *flowParser) node() *yaml.Node {
	p := f.p
	p.depth++
	if p.depth > maxFastDepth {
		p.fail()
	}
	defer func() { p.depth-- }()
	f.skip()
	switch p.src[f.i] {
	case '[':
		n := p.newNode(yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle})
		f.i++
		mark := len(p.stack)
		for first := true; ; first = false {
			f.skip()
			if p.src[f.i] == ']' && first {
				f.i++
				return n
			}
			p.stack = append(p.stack, f.node())
			f.skip()
			switch p.src[f.i] {
			case ',':
				f.i++
			case ']':
				f.i++
				n.Content = p.children(mark)
				return n
			default:
				p.fail()
			}
		}
	case '{':
		n := p.newNode(yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle})
		f.i++
		mark := len(p.stack)
		for first := true; ; first = false {
			f.skip()
			if p.src[f.i] == '}' && first {
				f.i++
				return n
			}
			k := f.scalar(true)
			p.scalars = p.scalars[:len(p.scalars)-1]
			f.skip()
			if p.src[f.i] != ':' {
				p.fail()
			}
			f.i++
			f.skip()
			if c := p.src[f.i]; c == ',' || c == '}' {
				p.fail() // empty value
			}
			p.stack = append(p.stack, k)
			p.stack = append(p.stack, f.node())
			f.skip()
			switch p.src[f.i] {
			case ',':
				f.i++
			case '}':
				f.i++
				n.Content = p.children(mark)
				return n
			default:
				p.fail()
			}
		}
	}
	return f.scalar(false)
}

// scalar parses a quoted or plain scalar in a flow collection.
func (f *flowParser) scalar(key bool) *yaml.Node {
	p := f.p
	at := f.i
	switch c := p.src[at]; c {
	case '"', '\'':
		n, e := p.quoted(at, 1<<30) // 1<<30: no line break allowed
		f.i = e
		return n
	case '-':
		if at+1 >= len(p.src) || strings.IndexByte(" \n,[]{}", p.src[at+1]) >= 0 {
			p.fail()
		}
	case '[', '{', ']', '}', ',', '?', ':', '&', '*', '!', '|', '>', '%', '@', '`', '#':
		p.fail()
	}
	i := at
	for ; i < len(p.src); i++ {
		c := p.src[i]
		if c == '\n' || c == ',' || c == '[' || c == ']' || c == '{' || c == '}' {
			break
		}
		if c == ':' && (i+1 == len(p.src) || strings.IndexByte(" \n,[]{}", p.src[i+1]) >= 0) {
			break
		}
		if c == '#' && p.src[i-1] == ' ' {
			p.fail()
		}
	}
	e := at + len(bytes.TrimRight(p.src[at:i], " "))
	f.i = i
	val := string(p.src[at:e])
	if !key && i < len(p.src) && p.src[i] == ':' {
		p.fail() // a single-pair mapping inside a flow sequence
	}
	n := p.newNode(yaml.Node{Kind: yaml.ScalarNode, Tag: plainTag(val), Value: val})
	p.scalars = append(p.scalars, scalarAt{n: n, s: at, e: e, value: val})
	return n
}
