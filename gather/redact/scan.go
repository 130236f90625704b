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

	"github.com/google/renameio/v2"
	"github.com/klauspost/compress/gzip"
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
	Renamed      []Rename // entries whose names held a secret
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
// and redacts hits in place (atomic rewrite, mode 0600). Gzip files (.gz or
// gzip magic) are read through and rewritten compressed. A file or directory
// whose name holds a secret is renamed to its FileName. Scan fails closed:
// the error names the file and kind of a hit that could not be fixed (or a
// file it could not read), and the caller must not seal.
//
// Scan never rewrites a value merely because it was replaced elsewhere
// unless the value is distinctive (long, mixed classes): short and
// plain-word values are redacted only where they stand as secrets, so that
// names, paths and the manifest's references stay intact.
func (r *Redactor) Scan(ctx context.Context, dir string) (ScanReport, error) {
	r.known.Store(r.buildKnown())
	var rep ScanReport
	renamed, err := r.renameSecretNames(ctx, dir)
	if err != nil {
		return rep, err
	}
	rep.Renamed = renamed
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		gz, err := isGzip(p)
		if err != nil {
			return fmt.Errorf("leak scan: open %s: %w; the dump was not sealed", rel, err)
		}
		leaks, err := r.scanFile(p, rel, gz)
		if err != nil {
			return err
		}
		if len(leaks) == 0 {
			return nil
		}
		if err := r.rewriteScan(p, gz); err != nil {
			return fmt.Errorf("leak scan: %s has a %s at line %d that could not be redacted (%v); the dump was not sealed",
				rel, leaks[0].Kind, leaks[0].Line, err)
		}
		if left, err := r.scanFile(p, rel, gz); err != nil || len(left) > 0 {
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

// Rename is a file or directory the leak scan renamed because its name held
// a secret; paths are relative to the scanned directory.
type Rename struct {
	From, To string
}

// FileName returns name (one path element) with the secrets in it replaced
// by their tokens, and whether it changed. It applies the rules that hold
// wherever a value appears (key and token shapes, and after Scan started, the
// distinctive values replaced in the run), so that a manifest quoting the
// name gets the same tokens from the leak scan as the file got. Collectors
// name their outputs with it; Scan renames what they missed.
func (r *Redactor) FileName(name string) (string, bool) {
	out := r.redactLine([]byte(name), Counts{}, scanRules)
	if string(out) == name {
		return name, false
	}
	return string(out), true
}

// renameSecretNames renames, deepest first, the entries under dir whose
// names hold a secret.
func (r *Redactor) renameSecretNames(ctx context.Context, dir string) ([]Rename, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("leak scan: %w; the dump was not sealed", err)
		}
		if p != dir {
			paths = append(paths, p)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	var out []Rename
	for i := len(paths) - 1; i >= 0; i-- { // WalkDir lists a directory before its entries
		p := paths[i]
		name, changed := r.FileName(filepath.Base(p))
		if !changed {
			continue
		}
		to := filepath.Join(filepath.Dir(p), name)
		if _, err := os.Lstat(to); err == nil {
			return nil, fmt.Errorf("leak scan: a file name holds a secret and its redacted name is taken; the dump was not sealed")
		}
		if err := os.Rename(p, to); err != nil {
			return nil, fmt.Errorf("leak scan: rename a file whose name holds a secret: %w; the dump was not sealed", err)
		}
		from, _ := filepath.Rel(dir, p)
		rel, _ := filepath.Rel(dir, to)
		out = append(out, Rename{From: from, To: rel})
	}
	return out, nil
}

var gzipMagic = []byte{0x1f, 0x8b}

// isGzip reports a gzip file by its magic bytes.
func isGzip(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var head [2]byte
	n, _ := io.ReadFull(f, head[:])
	return bytes.Equal(head[:n], gzipMagic), nil
}

// scanFile lists hits in one file without changing it.
func (r *Redactor) scanFile(p, rel string, gz bool) ([]Leak, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("leak scan: open %s: %w; the dump was not sealed", rel, err)
	}
	defer f.Close()
	var rd io.Reader = f
	if gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
		if err != nil {
			return nil, fmt.Errorf("leak scan: %s is not a readable gzip file (%v); remove it and retry; the dump was not sealed", rel, err)
		}
		defer zr.Close()
		rd = zr
	}
	c := Counts{}
	var leaks []Leak
	bw := bufio.NewWriter(io.Discard)
	t := r.newTextStream(bw, c, scanRules)
	t.onHit = func(line int, kinds []string) {
		for _, k := range kinds {
			leaks = append(leaks, Leak{File: rel, Kind: k, Line: line})
		}
	}
	if err := r.streamTextWith(t, bufio.NewReaderSize(rd, 64<<10)); err != nil {
		return nil, fmt.Errorf("leak scan: read %s: %w; the dump was not sealed", rel, err)
	}
	if c.Total() > 0 && len(leaks) == 0 {
		for k := range c { // hits found only at end of input (a PEM block cut by EOF)
			leaks = append(leaks, Leak{File: rel, Kind: k, Line: t.lineNo})
		}
	}
	return leaks, nil
}

// rewriteScan redacts file p in place with the leak-scan rules.
func (r *Redactor) rewriteScan(p string, gz bool) error {
	redact := func(w io.Writer, rd io.Reader) (Counts, error) {
		c := Counts{}
		err := r.streamText(w, bufio.NewReaderSize(rd, 64<<10), c, scanRules)
		return c, err
	}
	if gz {
		redact = throughGzip(redact)
	}
	_, err := rewriteFile(p, redact)
	return err
}

// throughGzip makes fn read and write gzip.
func throughGzip(fn func(io.Writer, io.Reader) (Counts, error)) func(io.Writer, io.Reader) (Counts, error) {
	return func(w io.Writer, rd io.Reader) (Counts, error) {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		zw := gzip.NewWriter(w)
		c, err := fn(zw, zr)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		return c, err
	}
}

// StreamGzip is Stream for gzip input and output: rd is decompressed,
// redacted as the file name would be without its .gz, and written to w
// compressed (rotated logs such as the kubelet's 0.log.<time>.gz).
func (r *Redactor) StreamGzip(w io.Writer, rd io.Reader, name string) (Counts, error) {
	return throughGzip(func(w io.Writer, rd io.Reader) (Counts, error) {
		return r.Stream(w, rd, strings.TrimSuffix(name, ".gz"))
	})(w, rd)
}

// rewriteFile replaces file p by what fn makes of it: a temp file in the
// same directory, mode 0600, renamed over the original.
func rewriteFile(p string, fn func(io.Writer, io.Reader) (Counts, error)) (Counts, error) {
	in, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := renameio.NewPendingFile(p, renameio.WithTempDir(filepath.Dir(p)), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return nil, err
	}
	defer out.Cleanup() // no-op after the rename
	bw := bufio.NewWriterSize(out, 64<<10)
	c, err := fn(bw, in)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = out.CloseAtomicallyReplace()
	}
	return c, err
}

// Tree re-redacts an existing dump tree in place (dump redact DIR). It returns
// the counts of every file in which something was redacted, by relative path.
// Gzip files are redacted through their compression.
func (r *Redactor) Tree(ctx context.Context, dir string) (map[string]Counts, error) {
	out := map[string]Counts{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		gz, err := isGzip(p)
		if err != nil {
			return fmt.Errorf("redact %s: %w", rel, err)
		}
		stream := r.Stream
		if gz {
			stream = r.StreamGzip
		}
		c, err := rewriteFile(p, func(w io.Writer, rd io.Reader) (Counts, error) { return stream(w, rd, rel) })
		if err != nil {
			return fmt.Errorf("redact %s: %w", rel, err)
		}
		if c.Total() > 0 {
			out[rel] = c
		}
		return nil
	})
	return out, err
}
