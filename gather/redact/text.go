package redact

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// rules selects which line rules run: Stream uses all, Scan only the shapes
// that are secret wherever they appear plus the values replaced so far.
type rules uint32

const (
	rShapes  rules = 1 << iota // PEM, JWT, AWS ids, k3s tokens, age keys, vendor tokens
	rContext                   // URL passwords, Authorization, key=value, flags, entropy
	rValues                    // every value replaced so far in the run (Scan)
	rObfuscate

	allRules = rShapes | rContext | rObfuscate
)

var (
	pemFullRe = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`)
	pemTailRe = regexp.MustCompile(`(?:[A-Za-z0-9+/=]|\\[nr])*-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`)
	pemOpenRe = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*$`)
	// A JWT's parts are base64url JSON: "{\"" encodes as eyJ, "{ \"" as eyA,
	// "{\n" as ewo, "{\r\n" as ew0, "{\t" as ewk.
	jwtRe    = regexp.MustCompile(`(?:eyJ|\be(?:yA|wo|w0|wk))[A-Za-z0-9_-]{4,}\.e[yw][A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	awsIDRe  = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)
	awsSecRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`)
	googleRe = regexp.MustCompile(`AIza[0-9A-Za-z_\-]{35}`)
	// Vendor tokens by their documented prefixes: GitHub, GitLab, Slack (bot,
	// user, app, refresh, rotated), Stripe, OpenAI and Anthropic, npm, Vault,
	// SendGrid, and OpenAI's older keys (which hold "T3BlbkFJ", base64 of "OpenAI").
	vendorRe = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_\-]{20,}|` +
		`xox[abeoprs](?:\.xox[a-z])?-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|` +
		`sk-(?:proj|svcacct|admin|ant-[a-z0-9]+)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|` +
		`npm_[A-Za-z0-9]{36}|hv[sbr]\.[A-Za-z0-9_\-]{24,}|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,})`)
	// Webhook URLs carry their secret in the path.
	hookRe = regexp.MustCompile(`(?:hooks\.slack\.com/(?:services|workflows|triggers)|discord(?:app)?\.com/api/webhooks)/([A-Za-z0-9/_\-]{8,})`)
	// base64 of "-----BEGIN ": a whole PEM file encoded (kubeconfig key data, Helm values, env).
	b64PEMRe = regexp.MustCompile(`LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}`)
	k3sRe    = regexp.MustCompile(`K10[0-9a-f]{64}::[A-Za-z0-9_.\-]+:[^\s"'\\,;]+`)
	ageRe    = regexp.MustCompile(`AGE-SECRET-KEY-1[0-9A-Z]{50,}`)
	// Go MySQL driver DSN, user:password@tcp(host:port)/db: the password may
	// hold '@', so it runs to the last "@tcp(".
	dsnRe    = regexp.MustCompile(`(?:^|[\s"'=,(\[])[A-Za-z0-9_.\-]*:([^\s"']+)@(?:tcp6?|udp|unix(?:gram)?)\(`)
	authRe   = regexp.MustCompile(`(?i)(authorization\\?"?\s*[:=]\s*\[?\s*\\?"?\s*)(?:(bearer|basic|token|digest|negotiate|ntlm|apikey)\s+)?([^\s"'\\,\]]+)`)
	bearerRe = regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/=\-]{8,})`)
	bootRe   = regexp.MustCompile(`\b[a-z0-9]{6}\.([a-z0-9]{16})\b`)
)

// span is one replacement in a line.
type span struct {
	s, e int
	repl string
}

// apply rewrites l with non-overlapping spans sorted by start.
func apply(l []byte, sp []span) []byte {
	if len(sp) == 0 {
		return l
	}
	out := make([]byte, 0, len(l)+32*len(sp))
	last := 0
	for _, s := range sp {
		if s.s < last {
			continue
		}
		out = append(out, l[last:s.s]...)
		out = append(out, s.repl...)
		last = s.e
	}
	return append(out, l[last:]...)
}

// insideToken reports whether position p lies within one of our own tokens.
func insideToken(l []byte, p int) bool {
	lo := max(0, p-64)
	i := bytes.LastIndex(l[lo:p], []byte("[redacted:"))
	if i < 0 {
		return false
	}
	return bytes.IndexByte(l[lo+i:p], ']') < 0
}

// replaceAll replaces every match (or submatch group g) of re in l by the token of kind.
func (r *Redactor) replaceAll(l []byte, re *regexp.Regexp, g int, kind string, c Counts, keep func(string) bool) []byte {
	var sp []span
	for _, m := range re.FindAllSubmatchIndex(l, -1) {
		s, e := m[2*g], m[2*g+1]
		if s < 0 || insideToken(l, s) {
			continue
		}
		v := string(l[s:e])
		if keep != nil && keep(v) {
			continue
		}
		sp = append(sp, span{s, e, r.token(kind, v)})
		c[kind]++
	}
	return apply(l, sp)
}

// redactLine applies the single-line rules to l. It returns l itself when
// nothing matched.
func (r *Redactor) redactLine(l []byte, c Counts, rs rules) []byte {
	t := triggers(l)
	if rs&rShapes != 0 && t != 0 {
		l = r.shapes(l, t, c)
	}
	if rs&rContext != 0 && t&(secretWords|tURL|tDSN|tCmd) != 0 {
		l = r.context(l, t, c)
	}
	if rs&rValues != 0 {
		l = r.replaceKnown(l, c)
	}
	if rs&rObfuscate != 0 && r.obf.active() {
		l = r.obf.line(l, c)
	}
	return l
}

// shapes redacts values that are secret wherever they appear.
func (r *Redactor) shapes(l []byte, t trig, c Counts) []byte {
	if t&tPrivate != 0 && bytes.Contains(l, []byte("PRIVATE KEY")) {
		l = r.pemInline(l, c)
	}
	if t&tSecret != 0 && bytes.Contains(l, []byte("AGE-SECRET-KEY-1")) {
		l = r.replaceAll(l, ageRe, 0, "age_key", c, nil)
	}
	if t&tEyJ != 0 {
		l = r.replaceAll(l, jwtRe, 0, "jwt", c, notJWT)
	}
	if t&tB64PEM != 0 {
		l = r.b64PEM(l, c)
	}
	if t&tHook != 0 {
		l = r.replaceAll(l, hookRe, 1, "webhook", c, nil)
	}
	if t&tAWS != 0 {
		n := c["aws_key"]
		l = r.replaceAll(l, awsIDRe, 0, "aws_key", c, nil)
		if c["aws_key"] > n {
			l = r.replaceAll(l, awsSecRe, 1, "aws_secret", c, func(v string) bool { return classes(v) < 3 })
		}
	}
	if t&tAWSWord != 0 && t&(tSecret|tKey) != 0 {
		l = r.replaceAll(l, awsSecRe, 1, "aws_secret", c, func(v string) bool { return classes(v) < 3 })
	}
	if t&tAIza != 0 {
		l = r.replaceAll(l, googleRe, 0, "api_key", c, nil)
	}
	if t&tVend != 0 {
		l = r.replaceAll(l, vendorRe, 0, "token", c, nil)
	}
	if t&tK10 != 0 {
		l = r.replaceAll(l, k3sRe, 0, "k3s_token", c, nil)
	}
	return l
}

// pemInline redacts private keys that sit within one line (JSON strings with
// \n escapes), a key's tail up to its END line, and a BEGIN line whose block
// is cut at the end of the line.
func (r *Redactor) pemInline(l []byte, c Counts) []byte {
	for _, re := range []*regexp.Regexp{pemFullRe, pemTailRe, pemOpenRe} {
		var sp []span
		for _, m := range re.FindAllIndex(l, -1) {
			if insideToken(l, m[0]) {
				continue
			}
			body := pemBody(l[m[0]:m[1]])
			r.record(strings.ReplaceAll(body, `\n`, "\n"), "private_key")
			sp = append(sp, span{m[0], m[1], "[redacted:private_key:" + r.mac(b64Only(body)) + "]"})
			c["private_key"]++
		}
		l = apply(l, sp)
	}
	return l
}

// notJWT reports a JWT-shaped word whose header is not JSON with "alg" or
// "typ"; words starting eyJ ({") are taken as they are.
func notJWT(v string) bool {
	if strings.HasPrefix(v, "eyJ") {
		return false
	}
	h, _, _ := strings.Cut(v, ".")
	dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	return err != nil || !bytes.Contains(dec, []byte(`"alg"`)) && !bytes.Contains(dec, []byte(`"typ"`))
}

// b64PEM redacts base64-encoded PEM private keys, with the token the same
// key gets as PEM text.
func (r *Redactor) b64PEM(l []byte, c Counts) []byte {
	var sp []span
	for _, m := range b64PEMRe.FindAllIndex(l, -1) {
		if insideToken(l, m[0]) {
			continue
		}
		dec, ok := decodePEMB64(l[m[0]:m[1]])
		if !ok {
			continue
		}
		body := pemBody(dec)
		r.record(string(l[m[0]:m[1]]), "private_key")
		r.record(body, "private_key")
		sp = append(sp, span{m[0], m[1], "[redacted:private_key:" + r.mac(b64Only(body)) + "]"})
		c["private_key"]++
	}
	return apply(l, sp)
}

// decodePEMB64 decodes the whole 4-byte groups of b and reports whether they
// hold a private key's BEGIN line.
func decodePEMB64(b []byte) ([]byte, bool) {
	b = bytes.TrimRight(b, "=")
	b = b[:len(b)/4*4]
	dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(b)))
	n, err := base64.RawStdEncoding.Decode(dec, b)
	if err != nil {
		return nil, false
	}
	dec = dec[:n]
	return dec, bytes.Contains(dec, privMark)
}

// pemBody strips the BEGIN/END lines of a PEM text.
func pemBody(b []byte) string {
	s := string(b)
	if i := strings.Index(s, "-----BEGIN"); i >= 0 {
		if j := strings.Index(s[i+10:], "-----"); j >= 0 {
			s = s[i+10+j+5:]
		}
	}
	if i := strings.Index(s, "-----END"); i >= 0 {
		s = s[:i]
	}
	return s
}

// b64Only keeps the base64 characters of a PEM body (dropping \n escapes), so
// the same key gets the same token in a multi-line file and in a JSON string.
func b64Only(s string) string {
	s = strings.NewReplacer(`\n`, "", `\r`, "").Replace(s)
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if isB64(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// context redacts values found by their surroundings: URL passwords,
// Authorization headers, key=value pairs, flags, high-entropy words.
func (r *Redactor) context(l []byte, t trig, c Counts) []byte {
	if t&tURL != 0 && t&tAt != 0 {
		l = r.urlPasswords(l, c)
	}
	if t&tDSN != 0 {
		l = r.replaceAll(l, dsnRe, 1, "password", c, skipValue)
	}
	if t&tCmd != 0 {
		l = r.commandLine(l, c)
	}
	if t&tAuth != 0 && bytes.Contains(bytes.ToLower(l), []byte("authorization")) {
		l = r.authorization(l, c)
	}
	if t&tBearer != 0 {
		l = r.replaceAll(l, bearerRe, 1, "bearer", c, func(v string) bool { return !plausibleSecret(v) })
	}
	if t&secretWords != 0 {
		bp := lowerBufs.Get().(*[]byte)
		defer lowerBufs.Put(bp)
		lower := lowerInto(*bp, l)
		n := len(l)
		l = r.keyValues(l, lower, t, c)
		if len(l) != n {
			lower = lowerInto(lower, l)
		}
		*bp = lower
		if t&tToken != 0 {
			l = r.replaceAll(l, bootRe, 0, "token", c, func(v string) bool {
				s := v[7:]
				return strings.IndexAny(s, "0123456789") < 0 || strings.Trim(s, "0123456789") == ""
			})
		}
		if t&(tPass|tSecret|tToken|tKey|tCred) != 0 {
			l = r.entropy(l, lower, c)
		}
	}
	return l
}

// urlPasswords redacts the password of scheme://user:password@host URLs.
// Passwords are often written unescaped, holding '/', '#' or '@': the
// password runs to the last '@' before the path, as long as what precedes
// its first '/' is not a port.
func (r *Redactor) urlPasswords(l []byte, c Counts) []byte {
	var sp []span
	for off := 0; ; {
		i := bytes.Index(l[off:], []byte("://"))
		if i < 0 {
			break
		}
		u := off + i + 3
		off = u
		s, e, ok := urlPassword(l, u)
		if !ok || insideToken(l, s) {
			continue
		}
		pw := string(l[s:e])
		if skipValue(pw) {
			continue
		}
		secret := pw
		if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
			secret = dec
			r.record(pw, "url_password")
		}
		sp = append(sp, span{s, e, r.token("url_password", secret)})
		c["url_password"]++
		off = e
	}
	return apply(l, sp)
}

// urlPassword finds the password span of the URL whose authority starts at u.
func urlPassword(l []byte, u int) (s, e int, ok bool) {
	if u < 4 || !isSchemeChar(l[u-4]) {
		return 0, 0, false
	}
	p := u
	for p < len(l) && !urlUserEnd(l[p]) {
		p++
	}
	if p >= len(l) || l[p] != ':' {
		return 0, 0, false
	}
	s = p + 1
	end := s
	for end < len(l) && end-s < maxValue {
		c := l[end]
		if c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '?' || c == '\\' {
			break
		}
		end++
	}
	// The host follows the last '@' before the path; the path starts at the
	// first '/' after the first '@' (a '/' before it is in the password).
	first := bytes.IndexByte(l[s:end], '@')
	if first <= 0 {
		return 0, 0, false
	}
	if slash := bytes.IndexByte(l[s+first:end], '/'); slash >= 0 {
		end = s + first + slash
	}
	at := bytes.LastIndexByte(l[s:end], '@')
	e = s + at
	if slash := bytes.IndexByte(l[s:e], '/'); slash >= 0 && allDigits(l[s:s+slash]) {
		return 0, 0, false // host:port/path@...
	}
	return s, e, true
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
}

// urlUserEnd ends the user name of a URL's userinfo.
func urlUserEnd(c byte) bool {
	switch c {
	case ':', '/', '?', '#', '@', ' ', '\t', '"', '\'', '<', '>', '[', ']':
		return true
	}
	return false
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func (r *Redactor) authorization(l []byte, c Counts) []byte {
	var sp []span
	for _, m := range authRe.FindAllSubmatchIndex(l, -1) {
		s, e := m[6], m[7]
		v := string(l[s:e])
		if insideToken(l, s) || skipValue(v) {
			continue
		}
		kind := "authorization"
		if m[4] >= 0 {
			switch strings.ToLower(string(l[m[4]:m[5]])) {
			case "bearer":
				kind = "bearer"
			case "basic":
				kind = "basic"
			}
		}
		sp = append(sp, span{s, e, r.token(kind, v)})
		c[kind]++
	}
	return apply(l, sp)
}

// keyWords are the fragments every secret-like key name contains; keyValues
// only looks at keys around them.
var keyWords = []struct {
	w []byte
	t trig
}{
	{[]byte("pass"), tPass}, {[]byte("pw"), tPass}, {[]byte("secret"), tSecret}, {[]byte("token"), tToken},
	{[]byte("key"), tKey}, {[]byte("auth"), tAuth}, {[]byte("cred"), tCred}, {[]byte("pin"), tPin},
	{[]byte("sig"), tSig}, {[]byte("cookie"), tCookie}, {[]byte("session"), tCookie},
}

var lowerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// lowerInto writes the ASCII lower case of l into dst.
func lowerInto(dst, l []byte) []byte {
	dst = dst[:0]
	for _, c := range l {
		dst = append(dst, lowerTab[c])
	}
	return dst
}

func keyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// keyValues redacts values of secret-like keys and flags: KEY=value,
// key: value, "key": "value", logfmt, query parameters, escaped JSON inside
// strings, --flag=value and --flag value. It is a small hand-written scanner
// started only at the secret-like words of the line.
func (r *Redactor) keyValues(l, lower []byte, t trig, c Counts) []byte {
	var starts []int
	for _, kw := range keyWords {
		if t&kw.t == 0 {
			continue
		}
		w := kw.w
		runStart, runEnd := -1, -1 // the key run found last: each run is walked once per word
		for off := 0; ; {
			i := bytes.Index(lower[off:], w)
			if i < 0 {
				break
			}
			at := off + i
			off = at + len(w)
			if at < runEnd {
				continue
			}
			runStart = at
			for runStart > 0 && keyChar(l[runStart-1]) {
				runStart--
			}
			runEnd = at
			for runEnd < len(l) && keyChar(l[runEnd]) {
				runEnd++
			}
			starts = append(starts, runStart)
		}
	}
	if len(starts) == 0 {
		return l
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	var sp []span
	last := 0
	for _, ks := range starts {
		if ks < last {
			continue
		}
		ke := ks
		for ke < len(l) && keyChar(l[ke]) {
			ke++
		}
		if vs, ve, ok := r.keyValue(l, ks, ke); ok {
			kind, _, _ := secretKey(string(l[ks:ke]))
			sp = append(sp, span{vs, ve, r.token(kind, string(l[vs:ve]))})
			c[kind]++
			last = ve
		}
	}
	return apply(l, sp)
}

// keyValue finds the secret value of the key at l[ks:ke], if any.
func (r *Redactor) keyValue(l []byte, ks, ke int) (vs, ve int, ok bool) {
	kind, strict, ok := secretKey(string(l[ks:ke]))
	if !ok || insideToken(l, ks) {
		return 0, 0, false
	}
	p := ke
	quotedKey := false
	switch {
	case p+1 < len(l) && l[p] == '\\' && l[p+1] == '"':
		p, quotedKey = p+2, true
	case p < len(l) && (l[p] == '"' || l[p] == '\''):
		p, quotedKey = p+1, true
	}
	sp := p
	for p < len(l) && (l[p] == ' ' || l[p] == '\t') {
		p++
	}
	flag := false
	var sep byte
	switch {
	case p < len(l) && (l[p] == '=' || l[p] == ':'):
		sep = l[p]
		p++
		for p < len(l) && (l[p] == ' ' || l[p] == '\t') {
			p++
		}
	case p > sp && l[ks] == '-' && !quotedKey:
		flag = true // --token VALUE
	default:
		return 0, 0, false
	}
	if p >= len(l) {
		return 0, 0, false
	}
	vs, ve = p, p
	end := min(len(l), p+maxValue)
	switch {
	case flag:
		if l[p] == '-' || l[p] == '"' || l[p] == '\'' {
			return 0, 0, false
		}
		for ve < end && l[ve] != ' ' && l[ve] != '\t' && l[ve] != '"' && l[ve] != '\'' {
			ve++
		}
	case p+1 < len(l) && l[p] == '\\' && l[p+1] == '"': // \"value\" inside a JSON string
		vs = p + 2
		end = min(len(l), vs+maxValue)
		i := bytes.Index(l[vs:end], []byte(`\"`))
		if i < 0 {
			i = end - vs // unterminated: redact what may be the value
		}
		ve = vs + i
	case l[p] == '"':
		vs = p + 1
		ve = vs
		end = min(len(l), vs+maxValue)
		for ve < end && l[ve] != '"' {
			if l[ve] == '\\' {
				ve++
			}
			ve++
		}
		ve = min(ve, end)
	case l[p] == '\'':
		vs = p + 1
		end = min(len(l), vs+maxValue)
		i := bytes.IndexByte(l[vs:end], '\'')
		if i < 0 {
			i = end - vs
		}
		ve = vs + i
	default:
		for ve < end && !valueEnd(l[ve]) {
			ve++
		}
	}
	v := string(l[vs:ve])
	if ve <= vs || skipValue(v) || (flag && len(v) < 4) || settingValue(kind, v) {
		return 0, 0, false
	}
	// "token: expired" in a log message is prose; require a secret-looking
	// value unless the key is quoted, assigned with '=', or starts a YAML line.
	if !strict || flag || (sep == ':' && !quotedKey && !lineStartKey(l, ks)) {
		if !plausibleSecret(v) && !(flag && strict) {
			return 0, 0, false
		}
	}
	return vs, ve, true
}

// maxValue bounds how far a value is looked for, keeping a line's scan linear.
const maxValue = 4096

func valueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ';', '&', '"', '\'', '}', ']', ')', '<', '>', '\\':
		return true
	}
	return false
}

// lineStartKey reports whether only indentation or a list dash precedes the key at ks.
func lineStartKey(l []byte, ks int) bool {
	for _, b := range l[:ks] {
		if b != ' ' && b != '\t' && b != '-' {
			return false
		}
	}
	return true
}

var entropyWords = [][]byte{[]byte("token"), []byte("secret"), []byte("pass"), []byte("pwd"), []byte("key"), []byte("cred")}

// entropy redacts random-looking words that start within a short distance
// after a secret-like word.
func (r *Redactor) entropy(l, lower []byte, c Counts) []byte {
	const near = 48
	var sp []span
	last := 0
	for _, w := range entropyWords {
		done := 0 // bytes already looked at for this word: each is looked at once
		for off := 0; ; {
			k := bytes.Index(lower[off:], w)
			if k < 0 {
				break
			}
			e := off + k + len(w)
			off = e
			i := max(e, last, done)
			for i < len(l) && i <= e+near {
				if !isWord(l[i]) {
					i++
					continue
				}
				j := i
				for j < len(l) && isWord(l[j]) {
					j++
				}
				q := j // base64 padding ends a word; an '=' followed by more is a separator
				for q < len(l) && l[q] == '=' {
					q++
				}
				if q == j || q == len(l) || !isWord(l[q]) {
					j = q
				}
				if l[i] != '-' && l[i] != '/' && j-i >= 16 && (i == 0 || !isWord(l[i-1])) &&
					!insideToken(l, i) && !digestPrefix(l, i) && highEntropy(string(l[i:j])) {
					sp = append(sp, span{i, j, r.token("secret", string(l[i:j]))})
					c["secret"]++
					last = j
				}
				i = j
			}
			done = i
		}
	}
	slices.SortFunc(sp, func(a, b span) int { return a.s - b.s })
	return apply(l, sp)
}

func isWord(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
}

// digestPrefix reports a content digest (sha256:<hex>, the form of ca_pin and image digests).
func digestPrefix(l []byte, i int) bool {
	for _, p := range []string{"sha256:", "sha512:", "sha1:", "sha384:"} {
		if i >= len(p) && string(l[i-len(p):i]) == p {
			return true
		}
	}
	return false
}

// passwordCommands are programs that take a password or token as an
// argument, as ps shows them: which option carries it, and how.
var passwordCommands = map[string]struct {
	attached string // option with the value joined to it: mysql -pSECRET
	next     string // option with the value as the next argument: redis-cli -a SECRET
	userPass bool   // the value is user:password (curl -u)
	login    bool   // only after a "login" subcommand (docker login -p)
}{
	"mysql": {attached: "-p"}, "mysqldump": {attached: "-p"}, "mysqladmin": {attached: "-p"}, "mysqlimport": {attached: "-p"},
	"mysqlcheck": {attached: "-p"}, "mariadb": {attached: "-p"}, "mariadb-dump": {attached: "-p"}, "mariadb-admin": {attached: "-p"},
	"curl": {attached: "-u", next: "-u", userPass: true}, "redis-cli": {next: "-a"}, "sshpass": {attached: "-p", next: "-p"},
	"docker": {next: "-p", login: true}, "podman": {next: "-p", login: true}, "nerdctl": {next: "-p", login: true},
	"vault": {login: true},
}

// runsPasswordCommand reports whether one of passwordCommands appears in l
// as a command word: after a blank or '/' and before a blank.
func runsPasswordCommand(l []byte) bool {
	for name := range passwordCommands {
		for off := 0; ; {
			i := bytes.Index(l[off:], []byte(name))
			if i < 0 {
				break
			}
			s, e := off+i, off+i+len(name)
			off = e
			if (s == 0 || l[s-1] == ' ' || l[s-1] == '\t' || l[s-1] == '/') && e < len(l) && (l[e] == ' ' || l[e] == '\t') {
				return true
			}
		}
	}
	return false
}

// commandLine redacts passwords given as arguments to the programs in
// passwordCommands (ps output, shell history, unit files). Long options
// (--password X, --user=u:X) are left to keyValues and this for curl.
func (r *Redactor) commandLine(l []byte, c Counts) []byte {
	if !runsPasswordCommand(l) {
		return l // "docker.io/rancher/..." in a log line: no need to split it
	}
	type field struct{ s, e int }
	var fs []field
	for i := 0; i < len(l); {
		for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
			i++
		}
		j := i
		for j < len(l) && l[j] != ' ' && l[j] != '\t' {
			j++
		}
		if j > i {
			fs = append(fs, field{i, j})
		}
		i = j
	}
	var sp []span
	add := func(s, e int, userPass bool) {
		if userPass {
			k := bytes.IndexByte(l[s:e], ':')
			if k < 0 {
				return
			}
			s += k + 1
		}
		if e-s >= 2 && (l[s] == '"' || l[s] == '\'') && l[e-1] == l[s] {
			s, e = s+1, e-1
		}
		v := string(l[s:e])
		if e <= s || insideToken(l, s) || skipValue(v) {
			return
		}
		sp = append(sp, span{s, e, r.token("password", v)})
		c["password"]++
	}
	for k := 0; k < len(fs); k++ {
		name := l[fs[k].s:fs[k].e]
		if i := bytes.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		pc, ok := passwordCommands[string(name)]
		if !ok {
			continue
		}
		afterLogin := !pc.login
		for k++; k < len(fs); k++ {
			a := l[fs[k].s:fs[k].e]
			if a[0] == ';' || a[0] == '|' || a[0] == '&' {
				break // the next command of a shell line
			}
			switch {
			case !afterLogin:
				afterLogin = string(a) == "login"
			case pc.next != "" && (string(a) == pc.next || pc.userPass && (string(a) == "--user" || string(a) == "--proxy-user")):
				if k+1 < len(fs) {
					k++
					add(fs[k].s, fs[k].e, pc.userPass)
				}
			case pc.attached != "" && len(a) > len(pc.attached) && string(a[:len(pc.attached)]) == pc.attached:
				add(fs[k].s+len(pc.attached), fs[k].e, pc.userPass)
			case pc.userPass && bytes.HasPrefix(a, []byte("--user=")):
				add(fs[k].s+len("--user="), fs[k].e, true)
			case pc.login && pc.next == "" && a[0] != '-' && bytes.IndexByte(a, '=') < 0:
				add(fs[k].s, fs[k].e, false) // vault login TOKEN
				pc.login = false
			}
		}
	}
	slices.SortFunc(sp, func(a, b span) int { return a.s - b.s })
	return apply(l, sp)
}
