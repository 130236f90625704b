package sshfleet

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/dumptool/dump/internal/layout"
)

// Host is one entry of a host list: [user@]host[:port].
type Host struct {
	User string // "": the ssh config's, or the local user
	Addr string // a host name, an address or an ssh config alias
	Port string // "": the ssh config's, or 22
}

// ParseHost reads [user@]host[:port]; an IPv6 address with a port is
// written [addr]:port.
func ParseHost(s string) (Host, error) {
	var h Host
	rest := strings.TrimSpace(s)
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		h.User, rest = rest[:i], rest[i+1:]
		if h.User == "" || strings.HasPrefix(h.User, "-") || strings.ContainsAny(h.User, " \t@") {
			return h, fmt.Errorf("%s: the user before @ is not a login name", layout.Quote(s))
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]")
		if end < 0 {
			return h, fmt.Errorf("%s: no ] after [", layout.Quote(s))
		}
		h.Addr, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return h, fmt.Errorf("%s: want [address]:port", layout.Quote(s))
			}
			h.Port = rest[1:]
		}
	case strings.Count(rest, ":") == 1:
		h.Addr, h.Port, _ = strings.Cut(rest, ":")
	default:
		h.Addr = rest // a name, or an IPv6 address without a port
	}
	if h.Addr == "" || strings.HasPrefix(h.Addr, "-") || strings.ContainsAny(h.Addr, " \t/@[]") {
		return h, fmt.Errorf("%s: want [user@]host[:port]", layout.Quote(s))
	}
	if h.Port != "" {
		if n, err := strconv.Atoi(h.Port); err != nil || n < 1 || n > 65535 {
			return h, fmt.Errorf("%s: the port must be a number from 1 to 65535", layout.Quote(s))
		}
	}
	if err := layout.CheckNodeName(h.Node()); err != nil {
		return h, fmt.Errorf("%s: its node name: %w", layout.Quote(s), err)
	}
	return h, nil
}

// Node is the host's name in the dump (nodes/<node>/): its address in lower
// case, with the colons of an IPv6 address as '-'.
func (h Host) Node() string {
	return strings.ReplaceAll(strings.ToLower(h.Addr), ":", "-")
}

func (h Host) String() string {
	s := h.Addr
	if strings.Contains(s, ":") && h.Port != "" {
		s = "[" + s + "]"
	}
	if h.User != "" {
		s = h.User + "@" + s
	}
	if h.Port != "" {
		s += ":" + h.Port
	}
	return s
}

// ParseHosts reads a host list: one entry per line or comma-separated
// entries; blank lines and lines starting with # are left out. A host
// listed twice is an error (each node is one part of the dump).
func ParseHosts(r io.Reader) ([]Host, error) {
	var hosts []Host
	seen := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, e := range strings.Split(line, ",") {
			if e = strings.TrimSpace(e); e == "" {
				continue
			}
			h, err := ParseHost(e)
			if err != nil {
				return nil, err
			}
			if prev, dup := seen[h.Node()]; dup {
				return nil, fmt.Errorf("%s and %s are both node %s: list each host once (an ssh config Host alias gives two servers on one address names of their own)", prev, e, h.Node())
			}
			seen[h.Node()] = e
			hosts = append(hosts, h)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("no host in the list")
	}
	return hosts, nil
}

// TeleportHosts lists the hosts of the Teleport cluster the user is logged
// in to: `tsh ls --format json` when they are reached with tsh, and
// otherwise `tctl nodes ls --format json` (on an auth server, or with a
// tctl identity). labels ("env=prod,role=db") narrows the list.
func TeleportHosts(ctx context.Context, t Transport, labels string) ([]Host, error) {
	args := []string{"tctl", "nodes", "ls", "--format", "json"}
	if t == TSH {
		args = []string{"tsh", "ls", "--format", "json"}
	}
	if labels != "" {
		args = append(args, labels)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list the Teleport nodes (%s): %w: %s", strings.Join(args, " "), err, oneLine(stderr.String()))
	}
	// tctl and tsh print the node resources: {"kind":"node","metadata":{...},"spec":{"hostname":...}}.
	var nodes []struct {
		Spec struct {
			Hostname string `json:"hostname"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(out, &nodes); err != nil {
		return nil, fmt.Errorf("list the Teleport nodes (%s): its output is not a JSON list of nodes: %w", strings.Join(args, " "), err)
	}
	var list strings.Builder
	for _, n := range nodes {
		fmt.Fprintln(&list, n.Spec.Hostname)
	}
	hosts, err := ParseHosts(strings.NewReader(list.String()))
	if err != nil {
		return nil, fmt.Errorf("the Teleport nodes (%s): %w", strings.Join(args, " "), err)
	}
	return hosts, nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
