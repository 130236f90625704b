package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// obfuscator replaces identities (hostnames, users, domains, IPv4 addresses)
// with stable one-way names. The map back is only for the customer.
type obfuscator struct {
	r                          *Redactor
	hosts, ips, users, domains bool

	mu     sync.RWMutex
	ids    []ident // longest first
	ipMap  map[string]string
	ipUsed map[string]bool
	omap   map[string]string
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
		if len(from) < 3 || commonNames[strings.ToLower(from)] || have[from] {
			return
		}
		have[from] = true
		o.ids = append(o.ids, ident{from, to, kind})
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

// line obfuscates identities and IPv4 addresses in l.
func (o *obfuscator) line(l []byte, c Counts) []byte {
	o.mu.RLock()
	ids := o.ids
	o.mu.RUnlock()
	for _, id := range ids {
		if !bytes.Contains(l, []byte(id.from)) {
			continue
		}
		var sp []span
		from := []byte(id.from)
		for off := 0; ; {
			i := bytes.Index(l[off:], from)
			if i < 0 {
				break
			}
			s, e := off+i, off+i+len(from)
			off = e
			if s > 0 && identChar(l[s-1]) || e < len(l) && identChar(l[e]) || insideToken(l, s) {
				continue
			}
			sp = append(sp, span{s, e, id.to})
			c[id.kind]++
		}
		l = apply(l, sp)
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
	o.mu.RLock()
	to, ok := o.ipMap[s]
	o.mu.RUnlock()
	if ok {
		return to, true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if to, ok := o.ipMap[s]; ok {
		return to, true
	}
	if o.ipMap == nil {
		o.ipMap, o.ipUsed = map[string]string{}, map[string]bool{}
	}
	if o.omap == nil {
		o.omap = map[string]string{}
	}
	for n := 0; ; n++ {
		h := o.r.mac(fmt.Sprintf("ip:%d:%s", n, s))
		var b [3]int
		fmt.Sscanf(h[:6], "%02x%02x%02x", &b[0], &b[1], &b[2])
		to = fmt.Sprintf("10.%d.%d.%d", b[0], b[1], b[2])
		if !o.ipUsed[to] {
			break
		}
	}
	o.ipUsed[to] = true
	o.ipMap[s] = to
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
