package redact

import (
	"bufio"
	"bytes"
	"hash"
	"io"
	"strings"
)

// maxLine caps one line of text; a longer line is handled in pieces.
const maxLine = 1 << 20

// maxHeld bounds the window of base64-looking lines kept back in case they
// turn out to be the tail of a private key whose BEGIN line was cut off.
const maxHeld = 128

// maxBlockLines ends a PEM block that never reaches its END line.
const maxBlockLines = 4096

var (
	beginMark = []byte("-----BEGIN")
	endMark   = []byte("-----END")
	privMark  = []byte("PRIVATE KEY")
	dashes    = []byte("-----")
)

type heldLine struct {
	b  []byte
	nl bool
}

// textStream applies line rules and tracks multi-line private keys.
type textStream struct {
	r  *Redactor
	w  *bufio.Writer
	c  Counts
	rs rules

	inBlock    bool
	blockMAC   hash.Hash
	blockPre   []byte
	blockLines int

	held []heldLine

	b64Key    bool // the lines that follow continue a wrapped base64-encoded private key
	puttyLeft int  // lines of a PuTTY key's private part still to come
	keyLines  int  // lines taken into such a key so far

	// A secret key that ended the last line without its value (a wrapped
	// value, "--token \\" continued, a long line cut after "password: ").
	pendKind   string
	pendStrict bool

	// Leak scan only: called with the line number and kinds of each hit.
	onHit  func(line int, kinds []string)
	lineNo int
	seen   int
}

func (r *Redactor) newTextStream(w *bufio.Writer, c Counts, rs rules) *textStream {
	return &textStream{r: r, w: w, c: c, rs: rs}
}

func (t *textStream) emit(b []byte, nl bool) {
	t.w.Write(b)
	if nl {
		t.w.WriteByte('\n')
	}
}

// line handles one line without its newline; nl says whether it had one.
func (t *textStream) line(l []byte, nl bool) {
	if t.onHit == nil {
		t.handle(l, nl)
		return
	}
	t.lineNo++
	t.handle(l, nl)
	if n := t.c.Total(); n > t.seen {
		t.seen = n
		kinds := make([]string, 0, len(t.c))
		for k := range t.c {
			kinds = append(kinds, k)
		}
		t.onHit(t.lineNo, kinds)
	}
}

func (t *textStream) handle(l []byte, nl bool) {
	if t.inBlock {
		t.blockLine(l, nl)
		return
	}
	if t.b64Key || t.puttyLeft > 0 {
		if t.keyContinues(l) {
			return
		}
	}
	if t.pendKind != "" {
		l = t.wrappedValue(l)
	}
	if t.rs&rShapes != 0 && bytes.Contains(l, privMark) {
		if b := bytes.Index(l, beginMark); b >= 0 && !bytes.Contains(l[b:], endMark) {
			if h := pemHeaderEnd(l, b); h > 0 {
				t.flushHeld()
				t.startBlock(l, b, h)
				return
			}
		}
		if len(t.held) > 0 && bytes.Contains(l, endMark) {
			t.tail(l, nl)
			return
		}
	}
	if t.rs&rShapes != 0 && pureB64(l) && !bytes.Contains(l, b64PEMMark) {
		if len(t.held) == maxHeld {
			h := t.held[0]
			t.held = t.held[1:]
			t.emit(t.r.redactLine(h.b, t.c, t.rs), h.nl)
		}
		t.held = append(t.held, heldLine{append([]byte(nil), l...), nl})
		return
	}
	t.flushHeld()
	t.emit(t.r.redactLine(l, t.c, t.rs), nl)
	if t.rs&rShapes != 0 {
		t.startKeyLines(l)
	}
	if t.rs&rContext != 0 {
		t.pendKind, t.pendStrict = danglingKey(l)
	}
}

// danglingKey returns the kind of the secret key that ends l without a
// value: "password:", "TOKEN=", or a flag before a line continuation.
func danglingKey(l []byte) (kind string, strict bool) {
	e := len(l) // trimmed by hand: this runs on every line
	for e > 0 && (l[e-1] == ' ' || l[e-1] == '\t' || l[e-1] == '\r') {
		e--
	}
	if e == 0 || l[e-1] != ':' && l[e-1] != '=' && l[e-1] != '\\' {
		return "", false
	}
	s := l[:e]
	var key []byte
	prose := false // "failed to validate token:" ends a sentence, not a key
	switch s[len(s)-1] {
	case ':', '=':
		k := bytes.TrimRight(s[:len(s)-1], " \t\"'")
		i := len(k)
		for i > 0 && keyChar(k[i-1]) {
			i--
		}
		key = k[i:]
		prose = s[len(s)-1] == ':' && len(k) == len(s)-1 && !lineStartKey(k, i)
	case '\\':
		if f := lastField(s[:len(s)-1]); len(f) > 1 && f[0] == '-' {
			key = f
		}
	}
	if len(key) == 0 {
		return "", false
	}
	kind, strict, ok := secretKey(string(key))
	if !ok {
		return "", false
	}
	return kind, strict && !prose
}

// wrappedValue redacts the first word of l as the value of the key that
// ended the line before.
func (t *textStream) wrappedValue(l []byte) []byte {
	kind, strict := t.pendKind, t.pendStrict
	t.pendKind = ""
	i := 0
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	j := i
	for j < len(l) && l[j] != ' ' && l[j] != '\t' {
		j++
	}
	vs, ve := i, j
	if ve > vs && l[ve-1] == '\\' {
		ve--
	}
	if ve-vs >= 2 && (l[vs] == '"' || l[vs] == '\'') && l[ve-1] == l[vs] {
		vs, ve = vs+1, ve-1
	}
	if ve <= vs {
		return l
	}
	v := string(l[vs:ve])
	if v[0] == '-' || v[0] == '#' || strings.HasSuffix(v, ":") || strings.Contains(v, "=") || skipValue(v) ||
		settingValue(kind, v) || !strict && !plausibleSecret(v) {
		return l
	}
	t.c[kind]++
	return apply(l, []span{{vs, ve, t.r.token(kind, v)}})
}

var (
	b64PEMMark   = []byte("LS0tLS1CRUdJTi")
	puttyPrivate = []byte("Private-Lines:")
)

// startKeyLines notes, after line l, that the next lines belong to a key:
// the rest of a base64-encoded PEM key wrapped at 76 columns (base64 file),
// or the private lines of a PuTTY key.
func (t *textStream) startKeyLines(l []byte) {
	if bytes.Contains(l, b64PEMMark) {
		if m := b64PEMRe.FindIndex(l); m != nil && len(bytes.TrimSpace(l[m[1]:])) == 0 && l[m[1]-1] != '=' {
			if dec, ok := decodePEMB64(l[m[0]:m[1]]); ok && !bytes.Contains(dec, endMark) {
				t.b64Key, t.keyLines = true, 0
				t.blockMAC = t.r.newMAC()
			}
		}
		return
	}
	if s := bytes.TrimSpace(l); bytes.HasPrefix(s, puttyPrivate) {
		n := 0
		for _, c := range bytes.TrimSpace(s[len(puttyPrivate):]) {
			if c < '0' || c > '9' || n > maxBlockLines {
				return
			}
			n = n*10 + int(c-'0')
		}
		if n > 0 && n <= maxBlockLines {
			t.puttyLeft, t.keyLines = n, 0
			t.blockMAC = t.r.newMAC()
		}
	}
}

// keyContinues takes line l as key material if it is base64, and reports
// whether it did. The key's lines become one token, written where the first
// non-key line (or the end of the PuTTY key's private part) comes.
func (t *textStream) keyContinues(l []byte) bool {
	s := bytes.TrimSpace(l)
	ok := len(s) > 0
	for _, c := range s {
		if !isB64(c) {
			ok = false
			break
		}
	}
	if ok {
		t.blockMAC.Write(s)
		t.r.record(string(s), "private_key")
		t.keyLines++
		if t.puttyLeft > 0 {
			t.puttyLeft--
		}
		if t.puttyLeft > 0 || t.b64Key && !bytes.HasSuffix(s, []byte("=")) {
			return true
		}
	}
	t.endKeyLines()
	return ok
}

// endKeyLines writes the token for the key lines taken so far, if any.
func (t *textStream) endKeyLines() {
	if t.keyLines > 0 {
		t.emit([]byte("[redacted:private_key:"+macHex(t.blockMAC)+"]"), true)
		t.c["private_key"]++
	}
	t.b64Key, t.puttyLeft, t.keyLines = false, 0, 0
}

// pemHeaderEnd returns the index after "-----BEGIN ... PRIVATE KEY-----" at b, or -1.
func pemHeaderEnd(l []byte, b int) int {
	p := bytes.Index(l[b:], privMark)
	if p < 0 {
		return -1
	}
	e := bytes.Index(l[b+p:], dashes)
	if e < 0 {
		return -1
	}
	return b + p + e + len(dashes)
}

func (t *textStream) startBlock(l []byte, b, h int) {
	t.inBlock = true
	t.blockLines = 0
	t.blockMAC = t.r.newMAC()
	t.blockPre = append(t.blockPre[:0], t.r.redactLine(l[:b], t.c, t.rs)...)
	t.addBody(l[h:])
}

// addBody feeds base64 characters of key material to the block's MAC.
func (t *textStream) addBody(b []byte) {
	s := b64Only(string(b))
	t.blockMAC.Write([]byte(s))
	t.r.record(s, "private_key")
}

func (t *textStream) endBlock(nl bool) {
	t.emit(append(t.blockPre, "[redacted:private_key:"+macHex(t.blockMAC)+"]"...), nl)
	t.c["private_key"]++
	t.inBlock = false
}

func (t *textStream) blockLine(l []byte, nl bool) {
	if e := bytes.Index(l, endMark); e >= 0 {
		t.addBody(l[:e])
		rest := l[e:]
		if h := bytes.Index(rest[len(endMark):], dashes); h >= 0 {
			rest = rest[len(endMark)+h+len(dashes):]
		} else {
			rest = nil
		}
		t.blockPre = append(t.blockPre, "[redacted:private_key:"+macHex(t.blockMAC)+"]"...)
		t.c["private_key"]++
		t.inBlock = false
		t.emit(append(t.blockPre, t.r.redactLine(rest, t.c, t.rs)...), nl)
		return
	}
	t.blockLines++
	if keyLine(l) && t.blockLines < maxBlockLines {
		t.addBody(lastField(l))
		return
	}
	// The block was cut: close it and treat this line as ordinary text.
	t.endBlock(true)
	t.handle(l, nl)
}

// tail redacts held base64 lines that end in an END PRIVATE KEY line: the
// headerless tail of a key whose start was cut off.
func (t *textStream) tail(l []byte, nl bool) {
	m := t.r.newMAC()
	for _, h := range t.held {
		s := b64Only(string(h.b))
		m.Write([]byte(s))
		t.r.record(s, "private_key")
	}
	t.held = t.held[:0]
	e := bytes.Index(l, endMark)
	m.Write([]byte(b64Only(string(l[:e]))))
	rest := l[e+len(endMark):]
	if h := bytes.Index(rest, dashes); h >= 0 {
		rest = rest[h+len(dashes):]
	}
	t.c["private_key"]++
	out := []byte("[redacted:private_key:" + macHex(m) + "]")
	t.emit(append(out, t.r.redactLine(rest, t.c, t.rs)...), nl)
}

func (t *textStream) flushHeld() {
	for _, h := range t.held {
		t.emit(t.r.redactLine(h.b, t.c, t.rs), h.nl)
	}
	t.held = t.held[:0]
}

// close flushes state at the end of input: a block never closed is still redacted.
func (t *textStream) close() error {
	if t.inBlock {
		t.endBlock(false)
	}
	t.endKeyLines()
	t.flushHeld()
	return t.w.Flush()
}

// pureB64 reports a line made only of base64 characters (a PEM body line).
func pureB64(l []byte) bool {
	l = bytes.TrimSpace(l)
	if len(l) < 16 || len(l) > 128 {
		return false
	}
	for _, c := range l {
		if !isB64(c) {
			return false
		}
	}
	return true
}

// keyLine reports a line that can belong to a PEM private-key body: base64,
// a header (Proc-Type, DEK-Info), blank, or a log prefix followed by base64.
func keyLine(l []byte) bool {
	s := bytes.TrimSpace(l)
	if len(s) == 0 || bytes.HasPrefix(s, []byte("Proc-Type:")) || bytes.HasPrefix(s, []byte("DEK-Info:")) ||
		bytes.HasPrefix(s, []byte("Comment:")) || bytes.HasPrefix(s, []byte("Version:")) {
		return true
	}
	f := lastField(s)
	for _, c := range f {
		if !isB64(c) {
			return false
		}
	}
	return len(f) == len(s) || len(f) >= 16 || bytes.HasSuffix(f, []byte("="))
}

func lastField(l []byte) []byte {
	l = bytes.TrimSpace(l)
	if i := bytes.LastIndexAny(l, " \t"); i >= 0 {
		return l[i+1:]
	}
	return l
}

// streamText redacts rd line by line into w.
func (r *Redactor) streamText(w io.Writer, br *bufio.Reader, c Counts, rs rules) error {
	return r.streamTextWith(r.newTextStream(bufio.NewWriterSize(w, 64<<10), c, rs), br)
}

func (r *Redactor) streamTextWith(t *textStream, br *bufio.Reader) error {
	err := eachLine(br, func(b []byte, nl, _ bool) { t.line(b, nl) })
	if cerr := t.close(); err == nil {
		err = cerr
	}
	return err
}

// eachLine calls fn with every line of br, without its newline; nl says
// whether it had one. A line longer than maxLine comes in pieces (cut true,
// nl false), each ending after a blank or separator when one lies within
// maxValue bytes of the cut, so that a value is not split in two.
func eachLine(br *bufio.Reader, fn func(b []byte, nl, cut bool)) error {
	var long []byte
	for {
		b, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			long = append(long, b...)
			if len(long) >= maxLine {
				k := cutPoint(long)
				fn(long[:k], false, true)
				long = long[:copy(long, long[k:])]
			}
			continue
		case len(long) > 0:
			b = append(long, b...)
			long = long[:0]
		}
		if len(b) > 0 {
			nl := b[len(b)-1] == '\n'
			if nl {
				b = b[:len(b)-1]
			}
			fn(b, nl, false)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// cutPoint is where an over-long line is cut: after the last blank or
// separator in its final maxValue bytes, or at its end if there is none.
func cutPoint(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-maxValue; i-- {
		switch b[i] {
		case ' ', '\t', ',', ';', '&':
			return i + 1
		}
	}
	return len(b)
}
