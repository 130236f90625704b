package redact

import (
	"strings"
	"testing"
)

// fuzzSecret turns arbitrary fuzz input into a secret-looking value, or "".
func fuzzSecret(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	v := b.String()
	if len(v) < 12 || len(v) > 80 || classes(v) < 2 || strings.Trim(v, "xX") == "" {
		return ""
	}
	return v
}

// FuzzRedactText checks that the text redactor never panics and that a
// secret in a known-redacted position never comes out again, whatever text
// surrounds it.
func FuzzRedactText(f *testing.F) {
	f.Add("Nov 21 host k3s[1]: level=info msg=\"ok\"", "Zq8xLmN2pX8vB4wT6")
	f.Add("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA", "abc123DEF456ghi")
	f.Add("{\"MESSAGE\":\"x\"}\n\"Authorization\": \"", "eyJhbGciOiJIUzI1NiJ9")
	f.Add("password=\"unterminated", "K10abcdef0123456789")
	f.Add("QyNTUxOQAAACDkq0cLzXbbO2PLTXQ0YkJ1yM8RmPkh4VZ9l0uKkVQo3wAAAJjFZJvl\n", "s3cr3tV4lu3Xyz")
	f.Add(strings.Repeat("[redacted:", 3), "Token1234567890")
	r := mustNew(f, Options{})
	f.Fuzz(func(t *testing.T, noise, raw string) {
		for _, name := range []string{"x.txt", "x.yaml", "x.json"} {
			r.Bytes([]byte(noise), name) // must not panic
		}
		secret := fuzzSecret(raw)
		if secret == "" || strings.Contains(noise, secret) {
			return
		}
		for _, tmpl := range []string{
			"%N\npassword=%S\n%N",
			"%N\nAuthorization: Bearer %S\n%N",
			"%N\n  --token %S\n%N",
			"%N\nexport DB_PASSWORD='%S'\n%N",
			"%N\nurl: https://u:%S@h/\n%N",
		} {
			in := strings.NewReplacer("%N", noise, "%S", secret).Replace(tmpl)
			out, _ := r.Bytes([]byte(in), "system/fuzz.txt")
			if strings.Contains(string(out), secret) {
				t.Fatalf("secret %q came back out of template %q:\n%s", secret, tmpl, out)
			}
		}
	})
}

// FuzzRedactYAML checks the structured path: no panic, and a value under a
// secret key never survives, whether or not the rest of the document parses.
func FuzzRedactYAML(f *testing.F) {
	f.Add("kind: Secret\ndata:\n  a: YWJj\n", "Zq8xLmN2pX8vB4wT6")
	f.Add("- [unbalanced", "abc123DEF456ghi")
	f.Add("a: &x {b: *x}\n---\n# comment token: ", "s3cr3tV4lu3Xyz")
	f.Add("{\"kind\":\"token\",\"metadata\":{\"name\":\"", "0a1b2c3d4e5f6a7b8c9d")
	r := mustNew(f, Options{})
	f.Fuzz(func(t *testing.T, noise, raw string) {
		r.Bytes([]byte(noise), "objects/fuzz.yaml")
		secret := fuzzSecret(raw)
		if secret == "" || strings.Contains(noise, secret) {
			return
		}
		for _, in := range []string{
			noise + "\nauth:\n  password: " + secret + "\n",
			"config:\n  client_secret: \"" + secret + "\"\nnote: " + noise + "\n",
		} {
			out, _ := r.Bytes([]byte(in), "objects/fuzz.yaml")
			if strings.Contains(string(out), secret) {
				t.Fatalf("secret %q came back out:\n%s", secret, out)
			}
		}
	})
}
