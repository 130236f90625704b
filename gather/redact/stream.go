package redact

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
)

type format int

const (
	fmtText format = iota
	fmtYAML
	fmtJSON
)

// detect picks structured or text handling from the file name, then from its first bytes.
func detect(name string, head []byte) format {
	h := bytes.TrimLeft(head, " \t\r\n\ufeff")
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return fmtYAML
	case ".json", ".jsonl", ".ndjson":
		return fmtJSON
	case ".log", ".txt", ".error", ".service", ".env", ".conf", ".html", ".csv":
		if len(h) > 0 && h[0] == '{' {
			return fmtJSON // JSON-lines logs (Teleport audit log, app logs)
		}
		return fmtText
	}
	switch {
	case len(h) > 0 && (h[0] == '{' || h[0] == '['):
		return fmtJSON
	case bytes.HasPrefix(h, []byte("apiVersion:")) || bytes.HasPrefix(h, []byte("kind:")) ||
		bytes.HasPrefix(h, []byte("---\n")) || bytes.HasPrefix(h, []byte("---\r\n")):
		return fmtYAML
	}
	return fmtText
}

// Stream copies rd to w with secrets replaced. name is the file's path in the
// dump tree ("objects/tctl_get_users.yaml", "system/ps.txt"); it selects
// structured YAML/JSON handling (by extension or content) or line-based text
// handling. Text is streamed with bounded memory; a YAML/JSON document is held
// in memory up to 64 MiB and redacted as text beyond that or if it does not
// parse. Structured output stays valid YAML/JSON with keys, order and
// non-secret values kept (YAML formatting may be normalised).
func (r *Redactor) Stream(w io.Writer, rd io.Reader, name string) (Counts, error) {
	c := Counts{}
	br := bufio.NewReaderSize(rd, 64<<10)
	head, _ := br.Peek(4096)
	var err error
	var size int64 // files, sections of them and in-memory readers know theirs
	if s, ok := rd.(interface{ Size() int64 }); ok {
		size = s.Size()
	}
	switch detect(name, head) {
	case fmtYAML:
		err = r.streamYAML(w, br, size, c)
	case fmtJSON:
		err = r.streamJSON(w, br, size, c)
	default:
		err = r.streamText(w, br, c, allRules)
	}
	r.addTotals(c)
	if err != nil {
		return c, fmt.Errorf("redact %s: %w", name, err)
	}
	return c, nil
}

// Bytes is Stream for small in-memory data.
func (r *Redactor) Bytes(data []byte, name string) ([]byte, Counts) {
	var b bytes.Buffer
	c, _ := r.Stream(&b, bytes.NewReader(data), name) // reading and writing memory cannot fail
	return b.Bytes(), c
}
