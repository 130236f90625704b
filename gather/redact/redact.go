// Package redact removes secrets from support-dump output before it is written
// to the dump tree, and checks the finished tree for anything that slipped through.
//
// A secret is replaced by a consistent one-way token,
//
//	[redacted:<kind>:<8 hex of HMAC-SHA256(key, secret)>]
//
// so that support can tell that two files share a secret without seeing it. The
// key is random per dump unless the user keeps one with LoadOrCreateKey.
//
// Usage: make one Redactor per dump with New, pass every collector's output
// through Stream (StreamGzip for gzip files; safe for concurrent use), name
// output files with FileName when a source name may hold a secret, run Scan
// over the finished tree before sealing, and report Totals and
// ObfuscationNotes. YAML and JSON are redacted by structure (keys,
// Kubernetes Secrets and ConfigMaps, kubeconfigs, Teleport resources; the
// YAML fast path is package yamlfast); everything else line by line with
// cheap byte prefilters before any regular expression.
//
// A secret is redacted where it stands. Scan also replaces, in every file's
// contents, the values replaced anywhere in the run, but only distinctive
// ones (long, mixing letters and digits): a short or plain-word value such
// as a Secret's "username: teleport" is also a namespace, a file name and a
// path, which must stay intact. Names are never rewritten by that rule; a
// name holding a key or token shape is renamed to its FileName by Scan.
package redact

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// Options configure a Redactor.
type Options struct {
	Key       []byte   // HMAC-SHA256 key; nil = random per dump (never written anywhere)
	Obfuscate []string // subset of "hostnames","ips","users","domains"; empty = off
}

// Counts are redactions by kind ("password", "token", "private_key", "jwt", ...).
type Counts map[string]int

// Add adds o to c.
func (c Counts) Add(o Counts) {
	for k, v := range o {
		c[k] += v
	}
}

// Total is the sum over all kinds.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// maxRecorded bounds the set of replaced values kept for the leak scan.
const maxRecorded = 200000

// minRecordLen is the shortest replaced value the leak scan looks for
// everywhere: shorter ones (a pin, a user name) would match everywhere.
// Values must also be distinctive (see distinctive).
const minRecordLen = 12

// Redactor replaces secrets consistently across all files of one dump.
// It is safe for concurrent use.
type Redactor struct {
	key  []byte
	macs sync.Pool

	obf   obfuscator
	known atomic.Pointer[knownValues] // built by Scan

	mu       sync.Mutex
	totals   Counts
	replaced map[string]string // secret value -> kind, for Scan
}

// New makes a Redactor. A nil Options.Key gets a random key that lives only in memory.
func New(opts Options) (*Redactor, error) {
	key := opts.Key
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make redaction key: %w", err)
		}
	} else {
		key = append([]byte(nil), key...)
	}
	r := &Redactor{key: key, totals: Counts{}, replaced: map[string]string{}}
	r.macs.New = func() any { return hmac.New(sha256.New, r.key) }
	for _, o := range opts.Obfuscate {
		switch strings.TrimSpace(o) {
		case "hostnames":
			r.obf.hosts = true
		case "ips":
			r.obf.ips = true
		case "users":
			r.obf.users = true
		case "domains":
			r.obf.domains = true
		case "":
		default:
			return nil, fmt.Errorf("unknown --obfuscate value %q: use hostnames, ips, users or domains", o)
		}
	}
	r.obf.r = r
	return r, nil
}

// mac returns the first 8 hex digits of HMAC-SHA256(key, s).
func (r *Redactor) mac(s string) string {
	h := r.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(s))
	var sum [sha256.Size]byte
	out := h.Sum(sum[:0])
	r.macs.Put(h)
	return hex.EncodeToString(out[:4])
}

// newMAC returns a fresh keyed hash for secrets that arrive in pieces (PEM blocks).
func (r *Redactor) newMAC() hash.Hash { return hmac.New(sha256.New, r.key) }

func macHex(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)[:4]) }

// Token is the replacement for secret s of the given kind; it records s for Scan.
func (r *Redactor) token(kind, s string) string {
	r.record(s, kind)
	return "[redacted:" + kind + ":" + r.mac(s) + "]"
}

// tokenLen is token with the secret's length kept (Kubernetes Secret data).
func (r *Redactor) tokenLen(kind, s string, n int) string {
	r.record(s, kind)
	return fmt.Sprintf("[redacted:%s:%s:len=%d]", kind, r.mac(s), n)
}

// record remembers a replaced value so Scan can find copies that bypassed Stream.
func (r *Redactor) record(s, kind string) {
	s = strings.TrimSpace(s)
	if publicCert(s) {
		return // a CA bundle in a Secret also sits, rightly, in ConfigMaps and kubeconfigs
	}
	if strings.Contains(s, "\n") {
		// Only the long opaque lines of a multi-line secret are distinctive.
		for _, l := range strings.Split(s, "\n") {
			l = strings.TrimSpace(l)
			if len(l) >= 16 && !strings.ContainsAny(l, " \t") && !strings.HasPrefix(l, "-----") {
				r.record(l, kind)
			}
		}
		return
	}
	if !distinctive(s) || strings.Contains(s, "[redacted:") {
		return
	}
	r.mu.Lock()
	if _, ok := r.replaced[s]; !ok && len(r.replaced) < maxRecorded {
		r.replaced[s] = kind
	}
	r.mu.Unlock()
}

func (r *Redactor) addTotals(c Counts) {
	r.mu.Lock()
	r.totals.Add(c)
	r.mu.Unlock()
}

// Totals returns counts over the whole run.
func (r *Redactor) Totals() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.totals)
}

// publicCert reports PEM text holding certificates but no private key.
func publicCert(s string) bool {
	return strings.Contains(s, "-----BEGIN CERTIFICATE") && !strings.Contains(s, "PRIVATE KEY")
}
