package redact

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/dumptool/dump/gather/redact/yamlfast"
	"gopkg.in/yaml.v3"
)

// maxDoc bounds a YAML or JSON document held in memory; larger input is redacted as text.
const maxDoc = 64 << 20

const lastAppliedKey = "kubectl.kubernetes.io/last-applied-configuration"

// walker applies the structure-aware rules to a YAML node tree (JSON is parsed
// into the same tree).
type walker struct {
	r         *Redactor
	c         Counts
	kubeUsers bool // inside the users list of a kubeconfig
}

func (wk *walker) walk(n *yaml.Node) {
	wk.comments(n)
	switch n.Kind {
	case yaml.DocumentNode:
		for _, ch := range n.Content {
			wk.walk(ch)
		}
	case yaml.SequenceNode:
		wk.flagPairs(n)
		for _, ch := range n.Content {
			wk.walk(ch)
		}
	case yaml.MappingNode:
		wk.mapping(n)
	case yaml.ScalarNode:
		wk.text(n)
	}
}

// comments redacts comments, which yaml.v3 keeps and writes back.
func (wk *walker) comments(n *yaml.Node) {
	for _, p := range []*string{&n.HeadComment, &n.LineComment, &n.FootComment} {
		if *p != "" {
			if s, ok := wk.r.redactString(*p, wk.c); ok {
				*p = s
			}
		}
	}
}

func value(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

func (wk *walker) mapping(n *yaml.Node) {
	kind := value(n, "kind")
	envName := value(n, "name")
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		wk.comments(k)
		key := k.Value
		switch {
		case kind == "Secret" && (key == "data" || key == "stringData" || key == "binaryData") && v.Kind == yaml.MappingNode:
			// Every value of a Kubernetes Secret is secret; the key names stay.
			wk.comments(v)
			for j := 0; j+1 < len(v.Content); j += 2 {
				wk.comments(v.Content[j])
				wk.secretData(v.Content[j+1], key != "stringData")
			}
		case kind == "ConfigMap" && key == "data" && v.Kind == yaml.MappingNode:
			// A config file held in a ConfigMap gets the rules the file would.
			wk.comments(v)
			for j := 0; j+1 < len(v.Content); j += 2 {
				wk.comments(v.Content[j])
				wk.embedded(v.Content[j+1], v.Content[j].Value)
			}
		case kind == "token" && key == "metadata" && v.Kind == yaml.MappingNode:
			// A Teleport token resource's name is the join token itself.
			wk.comments(v)
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Value == "name" && v.Content[j+1].Kind == yaml.ScalarNode {
					wk.redact(v.Content[j+1], "teleport_token")
				} else {
					wk.walk(v.Content[j+1])
				}
			}
		case key == lastAppliedKey && v.Kind == yaml.ScalarNode:
			wk.lastApplied(v)
		case kind == "Config" && key == "users":
			in := wk.kubeUsers
			wk.kubeUsers = true
			wk.walk(v)
			wk.kubeUsers = in
		case wk.kubeUsers && key == "env" && v.Kind == yaml.SequenceNode:
			// exec credential plugins get their secrets through env.
			for _, e := range v.Content {
				if e.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(e.Content); j += 2 {
						if e.Content[j].Value == "value" {
							wk.secretScalar(e.Content[j+1], "credential", true)
						}
					}
				}
				wk.walk(e)
			}
		case key == "value" && v.Kind == yaml.ScalarNode && envName != "":
			// Environment variables: {name: K3S_TOKEN, value: ...}.
			if sk, strict, ok := secretKey(envName); ok {
				wk.secretScalar(v, sk, strict)
			} else {
				wk.walk(v)
			}
		case normKey(key) == "tokens" && v.Kind == yaml.SequenceNode:
			wk.staticTokens(v)
		default:
			sk, strict, ok := secretKey(key)
			switch {
			case ok && v.Kind == yaml.ScalarNode:
				wk.secretScalar(v, sk, strict)
			case ok && v.Kind == yaml.SequenceNode:
				wk.comments(v)
				for _, e := range v.Content {
					if e.Kind == yaml.ScalarNode {
						wk.secretScalar(e, sk, strict)
					} else {
						wk.walk(e)
					}
				}
			default:
				wk.walk(v)
			}
		}
	}
}

func (wk *walker) redact(n *yaml.Node, kind string) {
	if skipValue(n.Value) {
		return
	}
	n.Value = wk.r.token(kind, n.Value)
	n.Tag = "!!str"
	if n.Style != yaml.DoubleQuotedStyle && n.Style != yaml.SingleQuotedStyle {
		n.Style = 0
	}
	wk.c[kind]++
}

// secretScalar redacts a value under a secret-like key. Paths, placeholders
// and (for loosely named keys) ordinary words stay and still get text rules.
func (wk *walker) secretScalar(n *yaml.Node, kind string, strict bool) {
	wk.comments(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" || n.Tag == "!!null" || skipValue(n.Value) ||
		settingValue(kind, n.Value) || (!strict && !plausibleSecret(n.Value)) {
		wk.text(n)
		return
	}
	wk.redact(n, kind)
}

// secretData redacts a Kubernetes Secret value and keeps its decoded length.
func (wk *walker) secretData(n *yaml.Node, b64 bool) {
	wk.comments(n)
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return
	}
	secret, size := n.Value, len(n.Value)
	if b64 {
		if dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), "")); err == nil {
			secret, size = string(dec), len(dec)
			if !publicCert(secret) {
				wk.r.record(n.Value, "secret_data")
			}
		}
	}
	n.Value = wk.r.tokenLen("secret_data", secret, size)
	n.Tag, n.Style = "!!str", 0
	wk.c["secret_data"]++
}

// staticTokens keeps the roles of Teleport static tokens ("proxy,node:SECRET").
func (wk *walker) staticTokens(seq *yaml.Node) {
	wk.comments(seq)
	for _, e := range seq.Content {
		if e.Kind != yaml.ScalarNode {
			wk.walk(e)
			continue
		}
		wk.comments(e)
		roles, tok, ok := strings.Cut(e.Value, ":")
		if !ok {
			wk.redact(e, "teleport_token")
			continue
		}
		if skipValue(tok) {
			continue
		}
		e.Value = roles + ":" + wk.r.token("teleport_token", tok)
		e.Tag, e.Style = "!!str", 0
		wk.c["teleport_token"]++
	}
}

// flagPairs redacts the value after a secret-like flag in argument lists
// (container args, exec args): ["--token", "SECRET"].
func (wk *walker) flagPairs(seq *yaml.Node) {
	for i := 0; i+1 < len(seq.Content); i++ {
		a, b := seq.Content[i], seq.Content[i+1]
		if a.Kind != yaml.ScalarNode || b.Kind != yaml.ScalarNode || !strings.HasPrefix(a.Value, "-") ||
			strings.Contains(a.Value, "=") || strings.HasPrefix(b.Value, "-") {
			continue
		}
		if kind, strict, ok := secretKey(a.Value); ok {
			wk.secretScalar(b, kind, strict)
		}
	}
}

// lastApplied redacts the JSON copy of an object kept by kubectl apply.
func (wk *walker) lastApplied(n *yaml.Node) {
	docs, err := parseJSON([]byte(n.Value))
	if err != nil {
		wk.text(n)
		return
	}
	lc := Counts{}
	sub := &walker{r: wk.r, c: lc}
	for _, d := range docs {
		sub.walk(d)
	}
	if lc.Total() == 0 {
		return
	}
	var b bytes.Buffer
	for _, d := range docs {
		writeJSON(&b, d, "", 0)
		b.WriteByte('\n')
	}
	n.Value, n.Tag = b.String(), "!!str"
	wk.c.Add(lc)
}

// embedded redacts a string scalar holding a file's contents (a ConfigMap's
// data value) by its structure when it is a YAML or JSON document, with
// text rules otherwise.
func (wk *walker) embedded(n *yaml.Node, name string) {
	if n.Kind != yaml.ScalarNode || !structuredText(name, n.Value) {
		wk.walk(n)
		return
	}
	lc := Counts{}
	var out []byte
	var ok bool
	if f := detect(name, []byte(n.Value)); f == fmtJSON {
		out, ok = wk.r.redactJSONDoc([]byte(n.Value), lc)
	} else {
		out, ok = wk.r.redactYAML([]byte(n.Value), lc)
	}
	if !ok {
		wk.walk(n)
		return
	}
	if lc.Total() > 0 {
		n.Value, n.Tag = string(out), "!!str"
		wk.c.Add(lc)
	}
}

// structuredText reports a file's contents that parse as YAML or JSON with
// a mapping or sequence at the top (not a plain text file YAML would read
// as one long scalar).
func structuredText(name, v string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	for l := range strings.SplitSeq(v, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l == "---" {
			continue
		}
		if l[0] == '{' || l[0] == '[' {
			return true
		}
		k, _, ok := strings.Cut(l, ":")
		return ok && k != "" && !strings.ContainsAny(k, " \t") && (strings.HasPrefix(l[len(k)+1:], " ") || len(l) == len(k)+1)
	}
	return false
}

// text applies the text rules to a string scalar.
func (wk *walker) text(n *yaml.Node) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "" && n.Tag != "!!binary") {
		return
	}
	if strings.HasPrefix(n.Value, "LS0tLS1CRUdJT") { // base64 of "-----BEGIN"
		if dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), "")); err == nil &&
			bytes.Contains(dec, privMark) {
			wk.r.record(string(dec), "private_key")
			wk.redact(n, "private_key")
			return
		}
	}
	if s, ok := wk.r.redactString(n.Value, wk.c); ok {
		n.Value = s
		if n.Style == yaml.LiteralStyle || n.Style == yaml.FoldedStyle {
			if !strings.Contains(s, "\n") {
				n.Style = 0
			}
		}
	}
}

// redactString applies the text rules to a string; ok reports a change.
func (r *Redactor) redactString(s string, c Counts) (string, bool) {
	if !strings.Contains(s, "\n") {
		if triggers(s) == 0 && !r.obf.active() {
			return s, false // what redactLine would find; saves a copy per YAML scalar
		}
		out := r.redactLine([]byte(s), c, allRules)
		if string(out) == s {
			return s, false
		}
		return string(out), true
	}
	var b bytes.Buffer
	if err := r.streamText(&b, bufio.NewReader(strings.NewReader(s)), c, allRules); err != nil {
		return s, false
	}
	if b.String() == s {
		return s, false
	}
	return b.String(), true
}

// readUpTo reads all of br if it fits in limit; big reports that it did not.
// size is the input's size if known (0 if not): reading into a buffer of
// that size saves growing one, which at its peak holds a document twice.
func readUpTo(br *bufio.Reader, limit, size int64) (buf []byte, big bool, err error) {
	if size <= 0 || size > limit {
		buf, err = io.ReadAll(io.LimitReader(br, limit+1))
		return buf, int64(len(buf)) > limit, err
	}
	b := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err = b.ReadFrom(io.LimitReader(br, limit+1))
	return b.Bytes(), int64(b.Len()) > limit, err
}

const structTriggers = secretWords | tPrivate | tEyJ | tAWS | tK10 | tURL | tAIza | tVend | tB64PEM | tHook

// streamYAML redacts a (multi-document) YAML stream by structure, falling back
// to text rules when it is too big or does not parse.
func (r *Redactor) streamYAML(w io.Writer, br *bufio.Reader, size int64, c Counts) error {
	buf, big, err := readUpTo(br, maxDoc, size)
	if err != nil {
		return err
	}
	if big {
		return r.streamText(w, bufio.NewReader(io.MultiReader(bytes.NewReader(buf), br)), c, allRules)
	}
	if !r.obf.active() { // obfuscation rules see more than the prefilters do
		if edits, ok := r.yamlEdits(buf, c); ok {
			bw := bufio.NewWriterSize(w, 64<<10)
			if err := yamlfast.Apply(bw, buf, edits); err != nil {
				return err
			}
			return bw.Flush()
		}
	}
	out, ok := r.redactYAMLTree(buf, c)
	if !ok {
		return r.streamText(w, bufio.NewReader(bytes.NewReader(buf)), c, allRules)
	}
	_, err = w.Write(out)
	return err
}

func (r *Redactor) redactYAML(buf []byte, c Counts) (out []byte, ok bool) {
	if !r.obf.active() {
		if out, ok := r.patchYAML(buf, c); ok {
			return out, true
		}
	}
	return r.redactYAMLTree(buf, c)
}

// patchYAML redacts YAML on the fast path, which patches changed values into
// the original text; ok is false when a document does not parse.
func (r *Redactor) patchYAML(buf []byte, c Counts) (out []byte, ok bool) {
	out, changes, ok := yamlfast.Patch(buf, yamlRules{r})
	for _, lc := range changes {
		c.Add(lc)
	}
	return out, ok
}

// yamlEdits is patchYAML as edits to buf, for a stream written straight
// out: no copy of a large document is made.
func (r *Redactor) yamlEdits(buf []byte, c Counts) (edits []yamlfast.Edit, ok bool) {
	edits, changes, ok := yamlfast.Edits(buf, yamlRules{r})
	for _, lc := range changes {
		c.Add(lc)
	}
	return edits, ok
}

// yamlRules are the structure-aware rules as the YAML fast path applies them.
type yamlRules struct{ r *Redactor }

func (y yamlRules) Rewrite(root *yaml.Node) (Counts, bool) {
	lc := Counts{}
	(&walker{r: y.r, c: lc}).walk(root)
	return lc, lc.Total() > 0
}

func (y yamlRules) Slow(doc []byte) (rep []byte, c Counts, ok bool) {
	lc := Counts{}
	out, ok := y.r.redactYAMLTree(doc, lc)
	if !ok || lc.Total() == 0 {
		return nil, nil, ok
	}
	return out, lc, true
}

func (y yamlRules) Maybe(b []byte) bool { return triggers(b)&structTriggers != 0 }

// redactYAMLTree decodes the whole stream with yaml.v3, walks it and encodes
// it again if anything changed.
func (r *Redactor) redactYAMLTree(buf []byte, c Counts) (out []byte, ok bool) {
	if triggers(buf)&structTriggers == 0 && !r.obf.active() {
		return buf, true
	}
	if bytes.HasPrefix(buf, []byte{0xfe, 0xff}) || bytes.HasPrefix(buf, []byte{0xff, 0xfe}) {
		return nil, false // yaml.v3 would read it as UTF-16 and see nothing; text rules still apply
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(buf))
	for {
		var d yaml.Node
		err := dec.Decode(&d)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		docs = append(docs, &d)
	}
	lc := Counts{}
	wk := &walker{r: r, c: lc}
	for _, d := range docs {
		wk.walk(d)
	}
	if lc.Total() == 0 {
		return buf, true
	}
	defer func() {
		if recover() != nil { // yaml.v3 panics on some node trees; text rules still apply
			out, ok = nil, false
		}
	}()
	var b bytes.Buffer
	if len(buf) < splitEncode {
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		for _, d := range docs {
			if len(d.Content) == 0 {
				continue
			}
			if err := enc.Encode(d); err != nil {
				return nil, false
			}
		}
		if err := enc.Close(); err != nil {
			return nil, false
		}
	} else {
		for i, d := range docs {
			if i > 0 {
				b.WriteString("---\n")
			}
			if err := encodeLarge(&b, d); err != nil {
				return nil, false
			}
		}
	}
	c.Add(lc)
	return b.Bytes(), true
}

// splitEncode is the size above which a document is encoded piece by piece:
// yaml.v3's emitter keeps every event of a document and slows to a crawl
// (1 MB/s) on a large kubectl List.
const splitEncode = 1 << 20

// encodeLarge writes a document one top-level pair, and one element of a
// long top-level sequence (items), at a time.
func encodeLarge(b *bytes.Buffer, d *yaml.Node) error {
	if len(d.Content) != 1 || d.Content[0].Kind != yaml.MappingNode || d.Content[0].Anchor != "" {
		out, err := marshal(d)
		b.Write(out)
		return err
	}
	writeComment(b, d.HeadComment)
	root := d.Content[0]
	writeComment(b, root.HeadComment)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind == yaml.SequenceNode && len(v.Content) > 16 && v.Style&yaml.FlowStyle == 0 && v.Anchor == "" &&
			(v.Tag == "" || v.Tag == "!!seq") && v.HeadComment == "" && v.LineComment == "" {
			out, err := marshal(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k,
				{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}}})
			if err != nil {
				return err
			}
			b.Write(bytes.TrimRight(out, " \n"))
			b.WriteByte('\n')
			for _, e := range v.Content {
				out, err := marshal(e)
				if err != nil {
					return err
				}
				for j, line := range bytes.SplitAfter(out, []byte("\n")) {
					if len(line) == 0 {
						continue
					}
					if j == 0 {
						b.WriteString("- ")
					} else if len(bytes.TrimSpace(line)) > 0 {
						b.WriteString("  ")
					}
					b.Write(line)
				}
			}
			writeComment(b, v.FootComment)
			continue
		}
		out, err := marshal(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}})
		if err != nil {
			return err
		}
		b.Write(out)
	}
	writeComment(b, root.FootComment)
	writeComment(b, d.FootComment)
	return nil
}

func writeComment(b *bytes.Buffer, c string) {
	if c == "" {
		return
	}
	for _, l := range strings.Split(c, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") && strings.TrimSpace(l) != "" {
			l = "# " + l
		}
		b.WriteString(l + "\n")
	}
}

// streamJSON redacts JSON: JSON lines (journalctl -o json, audit logs) line by
// line, otherwise whole documents up to maxDoc.
func (r *Redactor) streamJSON(w io.Writer, br *bufio.Reader, size int64, c Counts) error {
	head, _ := br.Peek(64 << 10)
	first := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		first = head[:i]
	}
	if t := bytes.TrimSpace(first); len(t) > 0 && (len(first) < len(head) || len(head) < 64<<10) && jsonValid(t) {
		return r.streamJSONLines(w, br, c)
	}
	buf, big, err := readUpTo(br, maxDoc, size)
	if err != nil {
		return err
	}
	if big {
		return r.streamJSONLines(w, bufio.NewReader(io.MultiReader(bytes.NewReader(buf), br)), c)
	}
	out, ok := r.redactJSONDoc(buf, c)
	if !ok {
		return r.streamText(w, bufio.NewReader(bytes.NewReader(buf)), c, allRules)
	}
	_, err = w.Write(out)
	return err
}

// redactJSONDoc redacts one or more JSON documents by structure; ok is false
// when buf is not JSON. Unchanged input is returned as it is.
func (r *Redactor) redactJSONDoc(buf []byte, c Counts) (out []byte, ok bool) {
	docs, err := parseJSON(buf)
	if err != nil {
		return nil, false
	}
	lc := Counts{}
	wk := &walker{r: r, c: lc}
	for _, d := range docs {
		wk.walk(d)
	}
	if lc.Total() == 0 {
		return buf, true
	}
	c.Add(lc)
	var b bytes.Buffer
	for _, d := range docs {
		writeJSON(&b, d, "  ", 0)
		b.WriteByte('\n')
	}
	return b.Bytes(), true
}

func (r *Redactor) streamJSONLines(w io.Writer, br *bufio.Reader, c Counts) error {
	t := r.newTextStream(bufio.NewWriterSize(w, 64<<10), c, allRules)
	err := eachLine(br, func(b []byte, nl, cut bool) {
		if cut { // an over-long piece: text rules only
			t.line(b, nl)
			return
		}
		r.jsonLine(t, b, nl, c)
	})
	if cerr := t.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// jsonLine redacts one line of JSON lines; a line that is not JSON gets text rules.
func (r *Redactor) jsonLine(t *textStream, l []byte, nl bool, c Counts) {
	s := bytes.TrimSpace(l)
	if len(s) == 0 || (triggers(l)&structTriggers == 0 && !r.obf.active()) {
		t.flushHeld()
		t.emit(l, nl)
		return
	}
	if s[0] != '{' && s[0] != '[' {
		t.line(l, nl)
		return
	}
	docs, err := parseJSON(s)
	if err != nil {
		t.line(l, nl)
		return
	}
	lc := Counts{}
	wk := &walker{r: r, c: lc}
	for _, d := range docs {
		wk.walk(d)
	}
	if lc.Total() == 0 {
		t.emit(l, nl)
		return
	}
	c.Add(lc)
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			b.WriteByte(' ')
		}
		writeJSON(&b, d, "", 0)
	}
	t.emit(b.Bytes(), nl)
}

// marshal encodes one node with the indentation used for whole documents.
func marshal(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	err := enc.Close()
	return b.Bytes(), err
}
