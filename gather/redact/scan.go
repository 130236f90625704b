package redact

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Leak is one hit of the leak scan.
type Leak struct {
	File string // path relative to the scanned directory
	Kind string
	Line int
}

// ScanReport is what Scan looked at and fixed.
type ScanReport struct {
	FilesScanned int
	Fixed        []Leak
}

// knownValues finds every value replaced so far, and its base64 and
// URL-encoded forms, with an 8-byte-prefix index and a bit filter in front.
type knownValues struct {
	bits [1 << 14]uint64 // 2^20-bit filter on the hashed 8-byte prefix
	pats map[uint64][]known
}

type known struct {
	text, kind, secret string
}

const scanPrefix = 8

func prefixHash(x uint64) uint32 { return uint32((x * 0x9E3779B97F4A7C15) >> 44) }

func (r *Redactor) buildKnown() *knownValues {
	r.mu.Lock()
	vals := make(map[string]string, len(r.replaced))
	for v, k := range r.replaced {
		vals[v] = k
	}
	r.mu.Unlock()
	kv := &knownValues{pats: map[uint64][]known{}}
	add := func(text, kind, secret string) {
		if len(text) < scanPrefix {
			return
		}
		x := binary.LittleEndian.Uint64([]byte(text[:scanPrefix]))
		for _, p := range kv.pats[x] {
			if p.text == text {
				return
			}
		}
		kv.pats[x] = append(kv.pats[x], known{text, kind, secret})
		h := prefixHash(x)
		kv.bits[h/64] |= 1 << (h % 64)
	}
	for v, kind := range vals {
		for _, f := range encodedForms(v) {
			add(f, kind, v)
		}
	}
	// Longest first, so a value wins over a shorter one sharing its prefix.
	for _, ps := range kv.pats {
		sort.Slice(ps, func(i, j int) bool { return len(ps[i].text) > len(ps[j].text) })
	}
	return kv
}

// encodedForms are v and the forms it takes when encoded: base64 (standard
// and URL alphabets, at each of the three byte alignments it can have inside
// a larger encoded blob) and URL escaping.
func encodedForms(v string) []string {
	forms := []string{v}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for k := 0; k < 3; k++ {
			e := enc.EncodeToString(append(make([]byte, k), v...))
			start := (k*8 + 5) / 6
			end := (k + len(v)) * 8 / 6
			if end-start >= 12 {
				forms = append(forms, e[start:end])
			}
		}
	}
	if q := url.QueryEscape(v); q != v {
		forms = append(forms, q)
	}
	if p := url.PathEscape(v); p != v {
		forms = append(forms, p)
	}
	return forms
}

// replaceKnown replaces known secret values in l by their tokens.
func (r *Redactor) replaceKnown(l []byte, c Counts) []byte {
	kv := r.known.Load()
	if kv == nil || len(l) < scanPrefix {
		return l
	}
	var sp []span
	for i := 0; i+scanPrefix <= len(l); i++ {
		x := binary.LittleEndian.Uint64(l[i:])
		h := prefixHash(x)
		if kv.bits[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, p := range kv.pats[x] {
			if bytes.HasPrefix(l[i:], []byte(p.text)) && !insideToken(l, i) {
				sp = append(sp, span{i, i + len(p.text), "[redacted:" + p.kind + ":" + r.mac(p.secret) + "]"})
				c[p.kind]++
				i += len(p.text) - 1
				break
			}
		}
	}
	return apply(l, sp)
}

// scanRules find what must never be in a dump: key, token and cloud-key
// shapes, and every value replaced anywhere in the run.
const scanRules = rShapes | rValues

// Scan is the leak scan after redaction and before sealing. It searches every
// file under dir for PEM private keys, JWTs, cloud key shapes and every value
// this Redactor replaced in the run (and their base64 and URL-encoded forms),
// and redacts hits in place (atomic rewrite, mode 0600). It fails closed: the
// error names the file and kind of a hit that could not be fixed, and the
// caller must not seal.
func (r *Redactor) Scan(ctx context.Context, dir string) (ScanReport, error) {
	r.known.Store(r.buildKnown())
	var rep ScanReport
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("leak scan: %w; the dump was not sealed", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !d.Type().IsRegular() {
			return fmt.Errorf("leak scan: %s is not a regular file and cannot be checked; remove it and retry", rel)
		}
		rep.FilesScanned++
		leaks, err := r.scanFile(p, rel, scanRules)
		if err != nil {
			return err
		}
		if len(leaks) == 0 {
			return nil
		}
		if err := r.rewrite(p, rel, scanRules); err != nil {
			return fmt.Errorf("leak scan: %s has a %s at line %d that could not be redacted (%v); the dump was not sealed",
				rel, leaks[0].Kind, leaks[0].Line, err)
		}
		if left, err := r.scanFile(p, rel, scanRules); err != nil || len(left) > 0 {
			if err == nil {
				err = fmt.Errorf("leak scan: %s still has a %s at line %d after redaction; the dump was not sealed",
					rel, left[0].Kind, left[0].Line)
			}
			return err
		}
		rep.Fixed = append(rep.Fixed, leaks...)
		return nil
	})
	return rep, err
}

// scanFile lists hits in one file without changing it.
func (r *Redactor) scanFile(p, rel string, rs rules) ([]Leak, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("leak scan: open %s: %w; the dump was not sealed", rel, err)
	}
	defer f.Close()
	c := Counts{}
	var leaks []Leak
	bw := bufio.NewWriter(io.Discard)
	t := r.newTextStream(bw, c, rs)
	t.onHit = func(line int, kinds []string) {
		for _, k := range kinds {
			leaks = append(leaks, Leak{File: rel, Kind: k, Line: line})
		}
	}
	if err := r.streamTextWith(t, bufio.NewReaderSize(f, 64<<10)); err != nil {
		return nil, fmt.Errorf("leak scan: read %s: %w; the dump was not sealed", rel, err)
	}
	if c.Total() > 0 && len(leaks) == 0 {
		for k := range c { // hits found only at end of input (a PEM block cut by EOF)
			leaks = append(leaks, Leak{File: rel, Kind: k, Line: t.lineNo})
		}
	}
	return leaks, nil
}

// rewrite redacts file p in place: a temp file in the same directory, mode
// 0600, renamed over the original.
func (r *Redactor) rewrite(p, rel string, rs rules) error {
	_, err := r.rewriteWith(p, func(w io.Writer, rd io.Reader) (Counts, error) {
		c := Counts{}
		err := r.streamText(w, bufio.NewReaderSize(rd, 64<<10), c, rs)
		return c, err
	})
	return err
}

func (r *Redactor) rewriteWith(p string, fn func(io.Writer, io.Reader) (Counts, error)) (Counts, error) {
	in, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".*.redact")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(tmp, 64<<10)
	c, err := fn(bw, in)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	return c, err
}

// Tree re-redacts an existing dump tree in place (dump redact DIR). It returns
// the counts of every file in which something was redacted, by relative path.
func (r *Redactor) Tree(ctx context.Context, dir string) (map[string]Counts, error) {
	out := map[string]Counts{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, ".redact") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		c, err := r.rewriteWith(p, func(w io.Writer, rd io.Reader) (Counts, error) {
			return r.Stream(w, rd, filepath.ToSlash(rel))
		})
		if err != nil {
			return fmt.Errorf("redact %s: %w", rel, err)
		}
		if c.Total() > 0 {
			out[filepath.ToSlash(rel)] = c
		}
		return nil
	})
	return out, err
}
