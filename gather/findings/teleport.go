package findings

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// readyzMeaning is what Teleport's /readyz status codes say (admin manual:
// {"status":"ok"} when the service runs without problems; the process state
// machine answers 503 when degraded and 400 while starting or recovering).
var readyzMeaning = map[int]string{
	400: "Teleport is starting and has not joined the cluster yet, or is recovering from a degraded state",
	503: "Teleport is degraded: a component lost its connection (usually to the auth server) and has not recovered",
}

// checkTeleportReadyz reads each node's diag/readyz.txt and the HTTP status
// the collector recorded.
func checkTeleportReadyz(t *tree) []Finding {
	var out []Finding
	for _, f := range t.glob("**/diag/readyz.txt") {
		b, _ := t.read(f.path, 64<<10)
		var body struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(b, &body)
		code := t.opts.HTTPStatus[f.path]
		if body.Status == "ok" || (body.Status == "" && (code == 0 || code == 200)) {
			continue
		}
		meaning := readyzMeaning[code]
		if meaning == "" {
			meaning = "Teleport reports it is not ready"
		}
		sev := Warning
		if code == 503 || code == 0 || code >= 500 {
			sev = Critical
		}
		title := "Teleport /readyz is not ok"
		if code != 0 {
			title = fmt.Sprintf("Teleport /readyz answered %d", code)
		}
		status := body.Status
		if status == "" {
			status = strings.TrimSpace(string(b))
		}
		out = append(out, Finding{
			Severity:    sev,
			Title:       title + onNode(f.path),
			Explanation: fmt.Sprintf("%s; it says %q.", meaning, quote(status)),
			Action:      "Read the teleport journal around the dump's time for the component that failed (auth connection, proxy tunnel) and fix that first.",
			Evidence:    []Evidence{{File: f.path, Line: 1, Text: quote(string(b))}},
		})
	}
	return out
}

var (
	teleportVersionRe = regexp.MustCompile(`\bv?(\d+)\.(\d+)\.(\d+)`)
	authServiceRe     = regexp.MustCompile(`\bAuth\b`)
)

// teleportVersion is one node's version, from where the dump saw it.
type teleportVersion struct {
	major int
	auth  bool // the node runs the auth service
	ev    Evidence
}

// checkTeleportVersions compares the major versions of the nodes in a
// cluster dump (each node's teleport_version.txt, and tctl inventory ls).
// Teleport supports agents one major version behind the auth service, never
// ahead of it: a wider spread, or an agent ahead of auth, is reported.
func checkTeleportVersions(t *tree) []Finding {
	var vs []teleportVersion
	for _, f := range t.glob("**/teleport_version.txt") {
		_, isAuth := t.size(strings.TrimSuffix(f.path, "teleport_version.txt") + "role.auth")
		t.lines(f.path, func(n int, line string) bool {
			if m := teleportVersionRe.FindStringSubmatch(line); m != nil && strings.Contains(line, "Teleport") {
				major, _ := strconv.Atoi(m[1])
				vs = append(vs, teleportVersion{major, isAuth, Evidence{File: f.path, Line: n, Text: quote(line)}})
				return false
			}
			return true
		})
	}
	for _, f := range t.glob("**/objects/tctl_inventory_ls.txt") {
		t.lines(f.path, func(n int, line string) bool {
			if n == 1 || strings.HasPrefix(line, "-") {
				return true // header and rule
			}
			if m := teleportVersionRe.FindStringSubmatch(line); m != nil {
				major, _ := strconv.Atoi(m[1])
				isAuth := authServiceRe.MatchString(line)
				vs = append(vs, teleportVersion{major, isAuth, Evidence{File: f.path, Line: n, Text: quote(line)}})
			}
			return true
		})
	}
	if len(vs) < 2 {
		return nil
	}
	lo, hi, authLo := vs[0], vs[0], -1
	for _, v := range vs {
		if v.major < lo.major {
			lo = v
		}
		if v.major > hi.major {
			hi = v
		}
		if v.auth && (authLo < 0 || v.major < authLo) {
			authLo = v.major
		}
	}
	var why string
	switch {
	case hi.major-lo.major >= 2:
		why = fmt.Sprintf("v%d and v%d are %d major versions apart; Teleport supports agents at most one major version behind the auth service.", hi.major, lo.major, hi.major-lo.major)
	case authLo >= 0 && hi.major > authLo && !hi.auth:
		why = fmt.Sprintf("an agent runs v%d, ahead of the auth service's v%d; agents must never be newer than auth.", hi.major, authLo)
	default:
		return nil
	}
	return []Finding{{
		Severity:    Warning,
		Title:       fmt.Sprintf("Teleport nodes run unsupported major versions: v%d and v%d", hi.major, lo.major),
		Explanation: why + " Mixed majors break joins and features.",
		Action:      "Upgrade auth first, then proxies, then agents, one major version at a time.",
		Evidence:    []Evidence{hi.ev, lo.ev},
	}}
}

// checkCARotation reads tctl get cert_authority: a rotation still in a phase
// after its grace period is stuck.
func checkCARotation(t *tree) []Finding {
	var out []Finding
	for _, f := range t.glob("**/objects/tctl_get_cert_authority.yaml") {
		for _, doc := range yamlDocs(t, f.path) {
			rot := get(doc, "spec", "rotation")
			phase := str(rot, "phase")
			if rot == nil || str(rot, "state") != "in_progress" || phase == "" || phase == "standby" {
				continue
			}
			started, err := time.Parse(time.RFC3339, str(rot, "started"))
			if err != nil {
				continue
			}
			grace := parseGrace(str(rot, "grace_period"))
			if t.opts.Now.Sub(started) <= grace {
				continue
			}
			kind := str(doc, "sub_kind")
			if kind == "" {
				kind = str(doc, "spec", "type")
			}
			at := get(rot, "phase")
			out = append(out, Finding{
				Severity: Warning,
				Title:    fmt.Sprintf("Teleport %s CA rotation stuck in phase %s since %s", kind, phase, started.UTC().Format("2006-01-02 15:04")),
				Explanation: fmt.Sprintf("The rotation started %s ago with a grace period of %s; nodes that missed it will be locked out when it completes.",
					t.opts.Now.Sub(started).Round(time.Hour), grace),
				Action:   "Check with tctl status which nodes have not picked up the new CA, then advance the phase with tctl auth rotate --manual --phase=<next> or roll back with --phase=rollback.",
				Evidence: []Evidence{{File: f.path, Line: at.Line, Text: "phase: " + phase}},
				Time:     &started,
			})
		}
	}
	return out
}

// parseGrace reads a grace period as Go writes it ("48h0m0s") or as
// nanoseconds; default Teleport's 30 hours.
func parseGrace(s string) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	var ns int64
	if _, err := fmt.Sscan(s, &ns); err == nil && ns > 0 {
		return time.Duration(ns)
	}
	return 30 * time.Hour
}

// yamlDocs parses every document of a YAML file, keeping line numbers.
func yamlDocs(t *tree, path string) []*yaml.Node {
	fl, err := t.fsys.Open(path)
	if err != nil {
		return nil
	}
	defer fl.Close()
	dec := yaml.NewDecoder(fl)
	var docs []*yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return docs
		}
		if len(n.Content) == 1 {
			docs = append(docs, n.Content[0])
		}
	}
}

// get walks mapping keys; nil when a key is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func str(n *yaml.Node, keys ...string) string {
	if v := get(n, keys...); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func items(n *yaml.Node, keys ...string) []*yaml.Node {
	if v := get(n, keys...); v != nil && v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return nil
}

// lineOf is the line of a node, or of its parent when it is missing.
func lineOf(n, parent *yaml.Node) int {
	if n != nil {
		return n.Line
	}
	if parent != nil {
		return parent.Line
	}
	return 0
}
