package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// obfuscator replaces identities (hostnames, users, domains, IPv4 and IPv6
// addresses) with stable one-way names. The map back is only for the customer.
type obfuscator struct {
	r                          *Redactor
	hosts, ips, users, domains bool

	mu       sync.RWMutex
	ids      []ident // longest first
	hostOnly []ident // names too short or common to replace everywhere: only where they stand as host names
	ipMap    map[string]string
	ipUsed   map[string]bool
	omap     map[string]string
}

type ident struct {
	from, to, kind string
}

// commonNames are account and host names too generic to obfuscate: replacing
// "ubuntu" or "root" would garble os-release and every path.
var commonNames = map[string]bool{
	"localhost": true, "root": true, "nobody": true, "ubuntu": true, "debian": true, "centos": true, "fedora": true,
	"rhel": true, "admin": true, "user": true, "ec2-user": true, "core": true, "k3s": true, "teleport": true,
	"kube": true, "docker": true, "default": true, "node": true, "vagrant": true, "test": true, "localdomain": true,
	"system": true, "daemon": true, "example.com": true,
}

var ipv4Re = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)

func (o *obfuscator) active() bool { return o.hosts || o.ips || o.users || o.domains }

// AddIdentities tells the Redactor which hostnames (short and fully
// qualified), user names and domains to obfuscate. It has no effect unless
// the matching --obfuscate kinds are on.
func (r *Redactor) AddIdentities(hostnames, users, domains []string) {
	o := &r.obf
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.omap == nil {
		o.omap = map[string]string{}
	}
	have := map[string]bool{}
	for _, id := range o.ids {
		have[id.from] = true
	}
	add := func(from, to, kind string) {
		if from == "" || have[from] {
			return
		}
		have[from] = true
		switch {
		case kind == "hostname" && (len(from) < 3 || commonNames[strings.ToLower(from)]):
			o.hostOnly = append(o.hostOnly, ident{from, to, kind})
		case len(from) < 3 || commonNames[strings.ToLower(from)]:
			return
		default:
			o.ids = append(o.ids, ident{from, to, kind})
		}
		o.omap[from] = to
	}
	if o.domains {
		for _, d := range domains {
			d = strings.Trim(strings.ToLower(d), ".")
			if strings.Contains(d, ".") {
				add(d, "domain-"+r.mac("domain:"+d)+".example", "domain")
			}
		}
	}
	if o.hosts {
		for _, h := range hostnames {
			h = strings.TrimSuffix(strings.TrimSpace(h), ".")
			short, rest, fq := strings.Cut(h, ".")
			to := "host-" + r.mac("host:"+strings.ToLower(short))
			if fq {
				add(h, to+"."+rest, "hostname") // the domain part is left to the domain rule
				add(strings.ToLower(h), to+"."+strings.ToLower(rest), "hostname")
			}
			add(short, to, "hostname")
			add(strings.ToLower(short), to, "hostname")
		}
	}
	if o.users {
		for _, u := range users {
			u = strings.TrimSpace(u)
			add(u, "user-"+r.mac("user:"+u), "user")
		}
	}
	sort.SliceStable(o.ids, func(i, j int) bool { return len(o.ids[i].from) > len(o.ids[j].from) })
}

func identChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// ObfuscationNotes says, in words fit for the report, what --obfuscate left
// in place: a host name too short or too common to replace everywhere is
// replaced only where it stands as a host name. The notes never quote a name.
func (r *Redactor) ObfuscationNotes() []string {
	r.obf.mu.RLock()
	defer r.obf.mu.RUnlock()
	if len(r.obf.hostOnly) == 0 {
		return nil
	}
	return []string{"the host name is shorter than 3 characters or a common word, so --obfuscate hostnames replaced it only " +
		"where it stands as a host name (log line prefixes, user@host, hostname and node name keys, /etc/hosts, uname); " +
		"elsewhere it may still appear"}
}

// line obfuscates identities and IPv4 and IPv6 addresses in l.
func (o *obfuscator) line(l []byte, c Counts) []byte {
	o.mu.RLock()
	ids, hostOnly := o.ids, o.hostOnly
	o.mu.RUnlock()
	for _, id := range hostOnly {
		l = hostInPlace(l, id, c)
	}
	for _, id := range ids {
		l = replaceWord(l, id, c, nil)
	}
	if o.ips && bytes.Count(l, []byte(":")) >= 2 {
		l = o.ipv6(l, c)
	}
	if o.ips && bytes.IndexByte(l, '.') >= 0 {
		var sp []span
		for _, m := range ipv4Re.FindAllIndex(l, -1) {
			s, e := m[0], m[1]
			if s > 0 && l[s-1] == '.' || e+1 < len(l) && l[e] == '.' && l[e+1] >= '0' && l[e+1] <= '9' {
				continue // part of a longer dotted number (a version)
			}
			if to, ok := o.ip(string(l[s:e])); ok {
				sp = append(sp, span{s, e, to})
				c["ip"]++
			}
		}
		l = apply(l, sp)
	}
	return l
}

// syslogHost matches the host field after the time at the start of a
// syslog or journalctl line (short, short-iso, short-precise).
var syslogHost = regexp.MustCompile(`^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (\S+) `)

// hostInPlace replaces id where it stands as a host name: the whole line,
// after '@', the host field of a log line, the value of a hostname or node
// name key, a name in an /etc/hosts line, uname's node name.
func hostInPlace(l []byte, id ident, c Counts) []byte {
	from := []byte(id.from)
	if !bytes.Contains(l, from) {
		return l
	}
	if bytes.Equal(bytes.TrimSpace(l), from) {
		c[id.kind]++
		return bytes.Replace(l, from, []byte(id.to), 1)
	}
	return replaceWord(l, id, c, func(s, e int) bool {
		return !(e+1 < len(l) && l[e] == '.' && identChar(l[e+1])) && hostContext(l, s) // not a domain's first label
	})
}

// replaceWord replaces id's name in l where it stands as a whole word and
// where (when not nil) holds.
func replaceWord(l []byte, id ident, c Counts, where func(s, e int) bool) []byte {
	from := []byte(id.from)
	if !bytes.Contains(l, from) {
		return l
	}
	var sp []span
	for off := 0; ; {
		i := bytes.Index(l[off:], from)
		if i < 0 {
			break
		}
		s, e := off+i, off+i+len(from)
		off = e
		if s > 0 && identChar(l[s-1]) || e < len(l) && identChar(l[e]) || insideToken(l, s) || where != nil && !where(s, e) {
			continue
		}
		sp = append(sp, span{s, e, id.to})
		c[id.kind]++
	}
	return apply(l, sp)
}

// hostContext reports whether the word at s stands as a host name.
func hostContext(l []byte, s int) bool {
	if s > 0 && l[s-1] == '@' {
		return true
	}
	if m := syslogHost.FindSubmatchIndex(l); m != nil && m[2] == s {
		return true
	}
	if bytes.HasPrefix(l, []byte("Linux ")) && s == len("Linux ") {
		return true
	}
	// KEY: NAME, KEY=NAME, "KEY":"NAME"
	p := s
	if p > 0 && (l[p-1] == '"' || l[p-1] == '\'') {
		p--
	}
	for p > 0 && l[p-1] == ' ' {
		p--
	}
	if p > 0 && (l[p-1] == ':' || l[p-1] == '=') {
		p--
		for p > 0 && (l[p-1] == ' ' || l[p-1] == '"' || l[p-1] == '\'') {
			p--
		}
		k := p
		for k > 0 && (keyChar(l[k-1]) || l[k-1] == '/') {
			k--
		}
		n := normKey(string(l[k:p]))
		if strings.HasSuffix(n, "hostname") || strings.HasSuffix(n, "nodename") || n == "host" || n == "node" {
			return true
		}
	}
	// /etc/hosts: an address, then names only.
	f := bytes.Fields(l[:s])
	if len(f) == 0 || l[s-1] != ' ' && l[s-1] != '\t' {
		return false
	}
	if _, err := netip.ParseAddr(string(f[0])); err != nil {
		return false
	}
	for _, n := range f[1:] {
		for _, c := range n {
			if !identChar(c) && c != '.' {
				return false
			}
		}
	}
	return true
}

// ipv6 obfuscates the IPv6 addresses in l.
func (o *obfuscator) ipv6(l []byte, c Counts) []byte {
	var sp []span
	for i := 0; i < len(l); {
		if !hexOrColon(l[i]) {
			i++
			continue
		}
		j := i
		colons := 0
		for j < len(l) && (hexOrColon(l[j]) || l[j] == '.') {
			if l[j] == ':' {
				colons++
			}
			j++
		}
		s, e := i, j
		i = j
		for e > s && l[e-1] == '.' {
			e--
		}
		if e-s > 2 && l[e-1] == ':' && l[e-2] != ':' {
			e-- // "2001:db8::1: connection refused"
		}
		if colons < 2 || s > 0 && (identChar(l[s-1]) || l[s-1] == '.') || e < len(l) && identChar(l[e]) || insideToken(l, s) {
			continue
		}
		to, ok := o.ip6(string(l[s:e]))
		if ok {
			sp = append(sp, span{s, e, to})
			c["ip"]++
		}
	}
	return apply(l, sp)
}

func hexOrColon(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':'
}

// ip6 maps an IPv6 address to a stable address in fd00::/8 (unique local).
// Loopback, unspecified, multicast and IPv4-mapped addresses (whose IPv4
// part the IPv4 rule handles) stay as they are.
func (o *obfuscator) ip6(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() || a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() {
		return "", false
	}
	return o.mapIP(s, a.String(), func(n int) string {
		h := o.r.mac(fmt.Sprintf("ip6:%d:%s", n, a.String()))
		return "fd00:" + h[:4] + ":" + h[4:] + "::1"
	})
}

// ip maps an IPv4 address to a stable 10.x.y.z address. Loopback, the
// unspecified and broadcast addresses, netmasks and link-local stay as they are.
func (o *obfuscator) ip(s string) (string, bool) {
	var oct [4]int
	for i, p := range strings.Split(s, ".") {
		n := 0
		for _, ch := range p {
			n = n*10 + int(ch-'0')
		}
		if n > 255 || len(p) > 1 && p[0] == '0' {
			return "", false
		}
		oct[i] = n
	}
	if oct[0] == 127 || oct[0] == 0 || oct[0] == 255 || oct[0] == 169 && oct[1] == 254 {
		return "", false
	}
	return o.mapIP(s, s, func(n int) string {
		h := o.r.mac(fmt.Sprintf("ip:%d:%s", n, s))
		var b [3]int
		fmt.Sscanf(h[:6], "%02x%02x%02x", &b[0], &b[1], &b[2])
		return fmt.Sprintf("10.%d.%d.%d", b[0], b[1], b[2])
	})
}

// mapIP returns the replacement of address s (canonical form key), making
// one with gen(0), gen(1), ... until it is not taken.
func (o *obfuscator) mapIP(s, key string, gen func(n int) string) (string, bool) {
	o.mu.RLock()
	to, ok := o.ipMap[key]
	o.mu.RUnlock()
	if ok {
		return to, true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if to, ok := o.ipMap[key]; ok {
		return to, true
	}
	if o.ipMap == nil {
		o.ipMap, o.ipUsed = map[string]string{}, map[string]bool{}
	}
	if o.omap == nil {
		o.omap = map[string]string{}
	}
	for n := 0; ; n++ {
		to = gen(n)
		if !o.ipUsed[to] {
			break
		}
	}
	o.ipUsed[to] = true
	o.ipMap[key] = to
	o.omap[s] = to
	return to, true
}

// ObfuscationMap returns original -> replacement for obfuscated identities
// (for the customer's local map file only; never put it in the dump).
func (r *Redactor) ObfuscationMap() map[string]string {
	r.obf.mu.RLock()
	defer r.obf.mu.RUnlock()
	m := maps.Clone(r.obf.omap)
	if m == nil {
		m = map[string]string{}
	}
	return m
}

// WriteObfuscationMap writes the map as JSON to path with mode 0600.
func (r *Redactor) WriteObfuscationMap(path string) error {
	b, err := json.MarshalIndent(r.ObfuscationMap(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode obfuscation map: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write obfuscation map %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write obfuscation map %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write obfuscation map %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write obfuscation map %s: %w", path, err)
	}
	return nil
}
