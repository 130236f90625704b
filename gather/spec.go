package gather

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSpecSize bounds a --spec file; collectors are a few lines each.
const maxSpecSize = 1 << 20

// LoadSpec reads extra collectors from a YAML file: a list of collectors, or a
// mapping with a "collectors" list, in the schema of Collector. Every error
// names the file and the line.
func LoadSpec(file string) ([]Collector, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", file, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", file, err)
	}
	if len(b) > maxSpecSize {
		return nil, fmt.Errorf("spec %s: larger than %d bytes; is this the right file?", file, maxSpecSize)
	}
	return parseSpec(file, b)
}

func parseSpec(file string, b []byte) ([]Collector, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, specError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty spec; expected a list of collectors (name, kind, output, ...)", file)
	}
	doc := root.Content[0]
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var cs []Collector
	var seq *yaml.Node
	switch doc.Kind {
	case yaml.SequenceNode:
		seq = doc
		if err := dec.Decode(&cs); err != nil {
			return nil, specError(file, err)
		}
	case yaml.MappingNode:
		var w struct {
			Collectors []Collector `yaml:"collectors"`
		}
		if err := dec.Decode(&w); err != nil {
			return nil, specError(file, err)
		}
		cs = w.Collectors
		seq = mappingValue(doc, "collectors")
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s line %d: expected \"collectors:\" with a list of collectors", file, doc.Line)
		}
	default:
		return nil, fmt.Errorf("%s line %d: expected a list of collectors or {collectors: [...]}", file, doc.Line)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s: no collectors in the spec", file)
	}
	names := map[string]bool{}
	for i := range cs {
		item := seq.Content[i]
		field, err := cs[i].validate()
		if err == nil && names[cs[i].Name] {
			field, err = "name", fmt.Errorf("collector %q is defined twice", cs[i].Name)
		}
		if err != nil {
			line := item.Line
			if v := mappingValue(item, field); v != nil {
				line = v.Line
			}
			return nil, fmt.Errorf("%s line %d: %w", file, line, err)
		}
		names[cs[i].Name] = true
		if cs[i].Category == "" {
			cs[i].Category = "custom"
		}
	}
	return cs, nil
}

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// specError rewrites a yaml.v3 error as "FILE line N: what".
func specError(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	for i, m := range msgs {
		if g := unknownField.FindStringSubmatch(m); g != nil {
			m = fmt.Sprintf("line %s: unknown field %q", g[1], g[2])
		}
		if strings.HasPrefix(m, "line ") {
			msgs[i] = file + " " + m
		} else {
			msgs[i] = file + ": " + m
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
