package findings

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// expiringWithin is how close to its end a certificate is reported.
const expiringWithin = 30 * 24 * time.Hour

// maxCertFile bounds the files searched for certificates: PEM lives in
// configs and objects, not in large logs.
const maxCertFile = 4 << 20

var pemBegin = []byte("-----BEGIN CERTIFICATE-----")

// kubeconfig-style fields that hold a base64-encoded PEM bundle.
var b64CertRe = regexp.MustCompile(`(?:certificate-authority-data|client-certificate-data|tls\.crt|ca\.crt|cert)"?:\s*"?([A-Za-z0-9+/=]{200,})`)

// checkCertificates parses every PEM certificate in the tree, plain or
// base64 in a kubeconfig or Secret, and reports those expired or expiring
// within 30 days of the dump.
func checkCertificates(t *tree) []Finding {
	var out []Finding
	seen := map[string]int{} // certificate -> its finding in out, or -1: one finding per certificate
	for _, f := range t.files {
		if f.size > maxCertFile || f.size == 0 {
			continue
		}
		b, ok := t.read(f.path, maxCertFile)
		if !ok {
			continue
		}
		hasPEM := bytes.Contains(b, pemBegin)
		hasB64 := bytes.Contains(b, []byte("LS0tLS1CRUdJTi")) // base64 of "-----BEGIN"
		if !hasPEM && !hasB64 {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			var certs []*x509.Certificate
			if hasPEM && strings.Contains(line, string(pemBegin)) {
				certs = parsePEM(b, i)
			}
			if hasB64 {
				if m := b64CertRe.FindStringSubmatch(line); m != nil {
					if raw, err := base64.StdEncoding.DecodeString(m[1]); err == nil {
						certs = append(certs, parseAllPEM(raw)...)
					}
				}
			}
			for _, c := range certs {
				ev := Evidence{File: f.path, Line: i + 1, Text: quote(line)}
				if at, ok := seen[string(c.Raw)]; ok {
					if at >= 0 && len(out[at].Evidence) < maxEvidence {
						out[at].Evidence = append(out[at].Evidence, ev)
					}
					continue
				}
				seen[string(c.Raw)] = -1
				if fd, ok := certFinding(t.opts.Now, c, ev); ok {
					seen[string(c.Raw)] = len(out)
					out = append(out, fd)
				}
			}
		}
	}
	return out
}

// parsePEM parses the one certificate whose BEGIN line is line index i.
func parsePEM(b []byte, i int) []*x509.Certificate {
	lines := bytes.SplitN(b, []byte("\n"), i+1)
	rest := lines[len(lines)-1]
	if j := bytes.Index(rest, pemBegin); j >= 0 {
		rest = rest[j:]
	}
	// Indented PEM (in YAML) parses once the indentation is gone.
	block, _ := pem.Decode(dedent(rest))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return []*x509.Certificate{c}
}

func dedent(b []byte) []byte {
	end := bytes.Index(b, []byte("-----END CERTIFICATE-----"))
	if end < 0 {
		return b
	}
	var out bytes.Buffer
	for _, l := range bytes.Split(b[:end+len("-----END CERTIFICATE-----")], []byte("\n")) {
		out.Write(bytes.TrimSpace(l))
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func parseAllPEM(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

func certFinding(now time.Time, c *x509.Certificate, ev Evidence) (Finding, bool) {
	subject := c.Subject.String()
	if subject == "" {
		subject = strings.Join(c.DNSNames, ",")
	}
	end := c.NotAfter.UTC()
	switch {
	case now.After(end):
		return Finding{
			Severity:    Critical,
			Title:       fmt.Sprintf("Certificate %q expired %s", subject, end.Format("2006-01-02")),
			Explanation: fmt.Sprintf("The certificate first found in %s (issuer %q) is no longer valid: TLS connections that rely on it fail.", ev.File, c.Issuer.String()),
			Action:      "Renew or rotate the certificate (k3s: k3s certificate rotate; Teleport: tctl auth rotate) and restart the service that uses it.",
			Evidence:    []Evidence{ev},
			Time:        &end,
		}, true
	case end.Sub(now) < expiringWithin:
		days := int(end.Sub(now).Hours() / 24)
		return Finding{
			Severity:    Warning,
			Title:       fmt.Sprintf("Certificate %q expires in %d days (%s)", subject, days, end.Format("2006-01-02")),
			Explanation: fmt.Sprintf("The certificate first found in %s (issuer %q) ends within 30 days of this dump.", ev.File, c.Issuer.String()),
			Action:      "Renew it before it ends; check that automatic renewal runs.",
			Evidence:    []Evidence{ev},
		}, true
	}
	return Finding{}, false
}
