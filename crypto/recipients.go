package crypto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// ParseRecipient parses one support recipient: an age X25519 public key
// ("age1..."), or an OpenSSH "ssh-ed25519 ..." or "ssh-rsa ..." public key
// line. It returns the recipient and its [Fingerprint]. The recipient
// remembers the fingerprint, which [Seal] records in the dump's info.
func ParseRecipient(s string) (age.Recipient, string, error) {
	s = strings.TrimSpace(s)
	var r age.Recipient
	var err error
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		return nil, "", errors.New("post-quantum age recipients are not supported yet: use an age1... X25519 key from dump keygen or age-keygen")
	case strings.HasPrefix(s, "age1"):
		r, err = age.ParseX25519Recipient(s)
	case strings.HasPrefix(s, "ssh-ed25519 "), strings.HasPrefix(s, "ssh-rsa "):
		r, err = agessh.ParseRecipient(s)
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"), strings.Contains(s, "PRIVATE KEY"):
		// Do not echo it: it is a secret given where a public key belongs.
		return nil, "", errors.New("this is a private key: give the public key (age1... or ssh-ed25519/ssh-rsa line) instead")
	default:
		return nil, "", fmt.Errorf("unknown recipient %q: want age1..., ssh-ed25519 ... or ssh-rsa ...", short(s, 24))
	}
	if err != nil {
		return nil, "", err // age's own error names the recipient and what is wrong
	}
	fp := Fingerprint(s)
	return namedRecipient{Recipient: r, fp: fp}, fp, nil
}

// ParseRecipients reads one recipient per line; blank lines and lines
// starting with # are ignored. source names the input in errors.
func ParseRecipients(r io.Reader, source string) ([]age.Recipient, []string, error) {
	var recs []age.Recipient
	var fps []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10) // an ssh-rsa 16384 line is ~2.8 KiB
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rec, fp, err := ParseRecipient(text)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", source, line, err)
		}
		recs = append(recs, rec)
		fps = append(fps, fp)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read recipients from %s: %w", source, err)
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s: no recipients found; add one age1... or ssh-ed25519/ssh-rsa public key per line", source)
	}
	return recs, fps, nil
}

// Fingerprint returns a short stable name for a recipient line, safe to show
// and to store: "age1" keys are shortened ("age1qyqszqgpqyqs…e9vqs3"), SSH
// keys give their type and SHA256 fingerprint exactly as ssh-keygen -l does
// ("ssh-ed25519 SHA256:..."). Unparsable input yields "unknown".
func Fingerprint(recipientLine string) string {
	s := strings.TrimSpace(recipientLine)
	if strings.HasPrefix(s, "age1") {
		if _, err := age.ParseX25519Recipient(s); err == nil {
			return s[:16] + "…" + s[len(s)-6:]
		}
		return "unknown"
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return "unknown"
	}
	return pk.Type() + " " + ssh.FingerprintSHA256(pk)
}

// namedRecipient carries the fingerprint of a parsed recipient to Seal.
type namedRecipient struct {
	age.Recipient
	fp string
}

// WrapWithLabels keeps the wrapped recipient's labels visible to age,
// which looks for them with a type assertion that embedding would hide.
func (r namedRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	if l, ok := r.Recipient.(age.RecipientWithLabels); ok {
		return l.WrapWithLabels(fileKey)
	}
	s, err := r.Recipient.Wrap(fileKey)
	return s, nil, err
}

// recipientFingerprint names a recipient for the info file.
func recipientFingerprint(r age.Recipient) string {
	switch r := r.(type) {
	case namedRecipient:
		return r.fp
	case *age.X25519Recipient:
		return Fingerprint(r.String())
	default:
		return fmt.Sprintf("%T", r)
	}
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
