package redact

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
)

// normKey folds a key or flag name for matching: lower case, no separators.
// "client-key-data", "CLIENT_KEY_DATA" and "clientKeyData" all become "clientkeydata".
func normKey(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c == '-' || c == '_' || c == '.' || c == ' ' || c == '"' || c == '\'':
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// exactSecret are names whose value is secret whatever it looks like.
var exactSecret = map[string]string{
	"password": "password", "passwd": "password", "pwd": "password", "pass": "password", "passphrase": "password",
	"secret": "secret", "clientsecret": "secret",
	"token": "token", "authtoken": "token", "tokenname": "token", "jointoken": "token", "agenttoken": "token",
	"servertoken": "token", "nodetoken": "token", "k3stoken": "token", "bootstraptoken": "token",
	"privatekey": "private_key", "keydata": "private_key", "clientkeydata": "private_key",
	"pin": "pin", "sopin": "pin", "userpin": "pin",
	"apikey": "api_key", "accesskey": "api_key", "secretkey": "api_key",
	"credentials": "credential", "credential": "credential",
	"signature": "signature", "sig": "signature",
}

// looseSecret are names whose value is secret only when it looks like one.
var looseSecret = map[string]string{"auth": "secret", "cookie": "cookie", "setcookie": "cookie", "session": "secret", "sessionid": "secret"}

// notSecretSuffix marks names that describe a secret without holding it
// (secretName, token_file, key_path, password_ttl, token_label, ...).
var notSecretSuffix = []string{
	"name", "names", "ref", "file", "files", "path", "paths", "dir", "ttl", "type", "types", "label", "labels",
	"url", "uri", "endpoint", "expiry", "expires", "expiration", "expiresat", "expiresin", "length", "len", "size",
	"count", "enabled", "required", "algorithm", "alg", "mode", "policy", "format", "header", "method", "source",
	"version", "selector", "template", "usages", "reviewer", "audience", "issuer", "period", "hash256", "id",
	"suite", "store", "env", "stdin", "key", "keys", "secrets", "tokens", "ids", "algo", "digest", "fingerprint",
}

var containsSecret = []struct{ sub, kind string }{
	{"password", "password"}, {"passwd", "password"}, {"passphrase", "password"},
	{"privatekey", "private_key"}, {"keydata", "private_key"},
	{"secret", "secret"}, {"token", "token"}, {"credential", "credential"}, {"signature", "signature"},
	{"apikey", "api_key"}, {"accesskey", "api_key"}, {"secretkey", "api_key"}, {"accountkey", "api_key"},
	{"masterkey", "api_key"}, {"encryptionkey", "api_key"}, {"signingkey", "api_key"}, {"sharedkey", "api_key"},
	{"hmackey", "api_key"}, {"sessionkey", "api_key"},
}

// keyNotSecret are names ending in "key" that name things, not secrets.
var keyNotSecret = map[string]bool{
	"publickey": true, "pubkey": true, "sortkey": true, "partitionkey": true, "primarykey": true, "foreignkey": true,
	"hashkey": true, "routingkey": true, "cachekey": true, "objectkey": true, "idempotencykey": true,
	"topologykey": true, "labelkey": true, "taintkey": true, "hostkey": true, "sshkey": true, "monkey": true,
}

type keyClass struct {
	kind       string
	strict, ok bool
}

// keyCache remembers classifications: logs repeat the same few keys millions of times.
var (
	keyCache     sync.Map
	keyCacheSize atomic.Int32
)

// secretKey classifies a key or flag name. strict means the value is secret
// whatever it looks like; otherwise the caller must also check plausibleSecret.
func secretKey(name string) (kind string, strict, ok bool) {
	if v, hit := keyCache.Load(name); hit {
		k := v.(keyClass)
		return k.kind, k.strict, k.ok
	}
	kind, strict, ok = classifyKey(name)
	if len(name) <= 64 && keyCacheSize.Add(1) < 1<<14 {
		keyCache.Store(name, keyClass{kind, strict, ok})
	}
	return kind, strict, ok
}

func classifyKey(name string) (kind string, strict, ok bool) {
	n := normKey(strings.TrimLeft(name, "-"))
	if n == "" {
		return "", false, false
	}
	if k, ok := exactSecret[n]; ok {
		return k, true, true
	}
	if k, ok := looseSecret[n]; ok {
		return k, false, true
	}
	if pwName(name) {
		return "password", true, true
	}
	if n == "capin" || strings.HasSuffix(n, "capin") { // Teleport ca_pin: a public-key hash
		return "", false, false
	}
	for _, s := range notSecretSuffix {
		if strings.HasSuffix(n, s) && n != s {
			// "privatekey" ends in "key" but is caught by exactSecret above;
			// names such as "secretkey" in containsSecret must not be dropped here.
			if s == "key" && !keyNotSecret[n] {
				break
			}
			if s == "id" && strings.HasSuffix(n, "secretid") { // Vault AppRole secret_id
				return "secret", true, true
			}
			return "", false, false
		}
	}
	for _, c := range containsSecret {
		if strings.Contains(n, c.sub) {
			return c.kind, true, true
		}
	}
	if strings.HasSuffix(n, "pin") && len(n) <= 8 {
		return "pin", true, true
	}
	if strings.HasSuffix(n, "key") && n != "key" && !keyNotSecret[n] {
		return "api_key", false, true
	}
	return "", false, false
}

// pwName reports a name ending in "pw" as a word of its own: pw, etcd-s3-pw,
// DB_PW, adminPw (not "gpw" or "sshpw" run together).
func pwName(name string) bool {
	if len(name) < 2 || !strings.EqualFold(name[len(name)-2:], "pw") {
		return false
	}
	if len(name) == 2 {
		return true
	}
	c := name[len(name)-3]
	return c == '-' || c == '_' || c == '.' || name[len(name)-2] == 'P' && c >= 'a' && c <= 'z'
}

var placeholders = map[string]bool{
	"null": true, "nil": true, "<nil>": true, "none": true, "<none>": true, "true": true, "false": true,
	"yes": true, "no": true, "on": true, "off": true, "-": true, "?": true, "''": true, `""`: true, "{}": true,
	"[]": true, "undefined": true, "n/a": true, "redacted": true, "<redacted>": true, "[redacted]": true,
	"hidden": true, "***hidden***": true, "optional": true, "required": true, "unset": true, "empty": true,
}

// skipValue reports values that are not secrets even under a secret name:
// empty, placeholders, booleans, our own tokens, variable references, file paths.
func skipValue(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || placeholders[strings.ToLower(v)] || strings.Contains(v, "[redacted:") {
		return true
	}
	if strings.Trim(v, "*xX") == "" {
		return true
	}
	if strings.HasPrefix(v, "${") || strings.HasPrefix(v, "$(") || strings.HasPrefix(v, "{{") ||
		(strings.HasPrefix(v, "$") && isIdent(v[1:])) {
		return true
	}
	return isPath(v)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isPath reports a file path (a secret given "by file" is not the secret).
// Random base64 can start with '/', so the segments must look like names.
func isPath(v string) bool {
	if !(strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") || strings.HasPrefix(v, "~/")) {
		return false
	}
	if strings.ContainsAny(v, "+= \t:") {
		return false
	}
	for _, seg := range strings.Split(v, "/") {
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' ||
				c >= 'A' && c <= 'Z') {
				return false
			}
		}
		if len(seg) >= 12 && classes(seg) >= 3 {
			return false
		}
	}
	return true
}

// classes counts character classes: lower, upper, digit, other.
func classes(s string) int {
	var lo, up, di, ot int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			lo = 1
		case c >= 'A' && c <= 'Z':
			up = 1
		case c >= '0' && c <= '9':
			di = 1
		default:
			ot = 1
		}
	}
	return lo + up + di + ot
}

// settingValue reports a value that is a setting, not a secret, even under a
// secret-looking name (net.ipv4.ipfrag_secret_interval = 0, token_ttl: 30m,
// require_signatures: true): a boolean, a duration, a short number, or a key
// left all zeros. PINs and passwords can be numbers, so those kinds keep them.
func settingValue(kind, v string) bool {
	if kind == "pin" || kind == "password" {
		return false
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "enabled", "disabled":
		return true
	}
	if strings.Trim(v, "0:-.") == "" {
		return true // an unset key printed as zeros (tcp_fastopen_key)
	}
	return shortNumber(v) || duration(v)
}

// shortNumber reports a decimal number of at most 7 digits: longer numbers
// can be numeric tokens.
func shortNumber(v string) bool {
	v = strings.TrimLeft(v, "+-")
	digits := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && i > 0 && i < len(v)-1:
		default:
			return false
		}
	}
	return digits > 0 && digits <= 7
}

// duration reports a short Go- or systemd-style duration (30s, 1h30m, 500ms, 7d).
func duration(v string) bool {
	if v == "" || len(v) > 10 {
		return false
	}
	for v != "" {
		i := 0
		for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
			i++
		}
		j := i
		for j < len(v) && (v[j] >= 'a' && v[j] <= 'z' || v[j] == 0xc2 || v[j] == 0xb5) {
			j++
		}
		if i == 0 || j == i {
			return false
		}
		switch v[i:j] {
		case "ns", "us", "µs", "ms", "s", "sec", "m", "min", "h", "d", "w":
		default:
			return false
		}
		v = v[j:]
	}
	return true
}

// distinctive reports a replaced value worth looking for everywhere in the
// dump's contents: long and mixing character classes, so that it cannot be
// an ordinary word, a name or a number that also occurs where it is no
// secret (a Secret's "username: teleport" is also the namespace's name).
func distinctive(s string) bool {
	if len(s) < minRecordLen || isUUID(s) || generatedName(s) || namePath(s) || isPath(s) {
		return false
	}
	hasDigit := strings.ContainsAny(s, "0123456789")
	hasLetter := strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	switch n := classes(s); {
	case n >= 3:
		return hasLetter && (hasDigit || len(s) >= 16)
	case n == 2:
		return hasDigit && hasLetter && len(s) >= 16
	}
	return false
}

// plausibleSecret reports whether a value found by a weak signal (free text
// "token: X", a loosely named key) looks like a secret rather than a word.
func plausibleSecret(v string) bool {
	if len(v) < 8 || skipValue(v) || strings.ContainsAny(v, " \t") || strings.Contains(v, "://") {
		return false
	}
	if isUUID(v) {
		return false
	}
	hasDigit := strings.ContainsAny(v, "0123456789")
	return (hasDigit && classes(v) >= 2) || (len(v) >= 16 && classes(v) >= 3)
}

// highEntropy reports an opaque random-looking word (next to a secret-like word).
func highEntropy(w string) bool {
	if len(w) < 16 || len(w) > 1024 || isUUID(w) || strings.Contains(w, "[redacted") {
		return false
	}
	var letters, digits int
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		}
	}
	if digits == 0 || letters == 0 || digits == len(w) {
		return false
	}
	if generatedName(w) || namePath(w) {
		return false
	}
	return entropy(w) >= 3.0
}

// generatedName matches Kubernetes-style generated names (coredns-6799fbcd5-x7k2p):
// lower-case segments of at most 10 characters joined by dashes.
func generatedName(w string) bool {
	segs := strings.Split(w, "-")
	if len(segs) < 2 {
		return false
	}
	for _, s := range segs {
		if len(s) == 0 || len(s) > 10 {
			return false
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

func entropy(s string) float64 {
	var n [256]int
	for i := 0; i < len(s); i++ {
		n[s[i]]++
	}
	e := 0.0
	l := float64(len(s))
	for _, c := range n {
		if c > 0 {
			p := float64(c) / l
			e -= p * math.Log2(p)
		}
	}
	return e
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// namePath reports a slash-separated path of ordinary names (var/lib/rancher/k3s).
func namePath(w string) bool {
	if !strings.Contains(w, "/") || strings.ContainsAny(w, "+=") {
		return false
	}
	for _, seg := range strings.Split(w, "/") {
		if len(seg) >= 12 && strings.ContainsAny(seg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(seg, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(seg, "0123456789") {
			return false // mixed case and digits: random, not a name
		}
	}
	return true
}
