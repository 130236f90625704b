package gather

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/fixturetest"
	"gopkg.in/yaml.v3"
)

func builtinByName(t *testing.T, env Env) map[string]Profile {
	t.Helper()
	ps := map[string]Profile{}
	for _, p := range Builtin(env) {
		ps[p.Name] = p
	}
	for _, n := range []string{"host", "k3s", "teleport", "kube"} {
		if len(ps[n].Collectors) == 0 {
			t.Fatalf("profile %q missing or empty", n)
		}
	}
	return ps
}

// Every built-in collector must be something the runner can execute and
// place: a known kind with what that kind needs, a clean relative output, and
// names and outputs unique across all profiles, so profiles can be combined.
// The one exception is kube_logs, which the kube and k3s profiles share by
// name and output so that the plan runs it once.
func TestBuiltinCollectorsAreValid(t *testing.T) {
	for _, env := range []Env{
		{Sysroot: fixturetest.Testdata(t) + "/fixtures/teleport-node"},
		{Sysroot: fixturetest.Testdata(t) + "/fixtures/k3s-server", HostID: "k3s-host"},
		{Sysroot: t.TempDir()},
	} {
		names, outputs := map[string]string{}, map[string]string{}
		for _, p := range Builtin(env) {
			for _, c := range p.Collectors {
				where := p.Name + "/" + c.Name
				if c.Name == "" || c.Category == "" {
					t.Errorf("%s: empty name or category: %+v", where, c)
				}
				// Shared kube_logs: see TestKubeAndK3sShareOneLogsCollector.
				shared := c.Kind == KindKubeLogs && names[c.Name] != "" && outputs[c.Output] == names[c.Name]
				if prev, dup := names[c.Name]; dup && !shared {
					t.Errorf("name %q used by %s and %s", c.Name, prev, where)
				}
				if !shared {
					names[c.Name] = where
				}
				if prev, dup := outputs[c.Output]; dup && !shared {
					t.Errorf("output %q written by %s and %s", c.Output, prev, where)
				}
				if !shared {
					outputs[c.Output] = where
				}
				if c.Output == "" || path.IsAbs(c.Output) || path.Clean(c.Output) != c.Output || strings.HasPrefix(c.Output, "..") {
					t.Errorf("%s: output %q is not a clean relative path", where, c.Output)
				}
				if c.Priority < 1 || c.Priority > 100 {
					t.Errorf("%s: priority %d outside 1..100", where, c.Priority)
				}
				switch c.Kind {
				case KindRun:
					if len(c.Command) == 0 || c.Command[0] == "" {
						t.Errorf("%s: run without a command", where)
					}
					for _, a := range c.Command {
						if strings.ContainsAny(a, "|;&$`") {
							t.Errorf("%s: shell syntax in argv %q: commands run without a shell", where, a)
						}
					}
				case KindCopy:
					if len(c.Paths) == 0 {
						t.Errorf("%s: copy without paths", where)
					}
					for _, p := range c.Paths {
						if !path.IsAbs(p) {
							t.Errorf("%s: copy path %q is not absolute", where, p)
						}
					}
				case KindJournal:
					if !strings.HasSuffix(c.Unit, ".service") || !strings.HasPrefix(c.Output, "systemd/") {
						t.Errorf("%s: journal unit %q output %q", where, c.Unit, c.Output)
					}
				case KindHTTP:
					if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
						t.Errorf("%s: url %q", where, c.URL)
					}
				case KindCensus:
					if c.Output != "census.json" {
						t.Errorf("%s: census output %q", where, c.Output)
					}
				case KindKubeLogs, KindKubeGet, KindKubeSecrets, KindKubeHealth:
					if (c.Output != "kube" && !strings.HasPrefix(c.Output, "kube/")) || (c.Namespace != "" && !kubeName.MatchString(c.Namespace)) {
						t.Errorf("%s: %s output %q namespace %q", where, c.Kind, c.Output, c.Namespace)
					}
				default:
					t.Errorf("%s: unknown kind %q", where, c.Kind)
				}
				if c.Since && c.Kind != KindCopy {
					t.Errorf("%s: since is for copies", where)
				}
			}
		}
	}
}

func TestBuiltinFillsHostIDAndDiagAddr(t *testing.T) {
	root := fixturetest.Testdata(t) + "/fixtures/teleport-node"
	ps := builtinByName(t, Env{Sysroot: root, HostID: "node-7"})
	var outs, urls []string
	for _, p := range ps {
		for _, c := range p.Collectors {
			if strings.Contains(c.Output, "{host}") {
				t.Errorf("%s: {host} not filled in: %s", c.Name, c.Output)
			}
			outs = append(outs, c.Output)
			if c.URL != "" {
				urls = append(urls, c.URL)
			}
		}
	}
	for _, want := range []string{"nodes/node-7/teleport.yaml", "systemd/node-7/teleport.service", "systemd/node-7/k3s.service", "census.json"} {
		if !slices.Contains(outs, want) {
			t.Errorf("no collector writes %s", want)
		}
	}
	slices.Sort(urls)
	want := []string{"http://127.0.0.1:3000/healthz", "http://127.0.0.1:3000/metrics", "http://127.0.0.1:3000/readyz"}
	if !slices.Equal(urls, want) {
		t.Errorf("diag urls = %v, want %v (diag_addr of the fixture)", urls, want)
	}

	// A flag's address wins over the config's; without either there are no http collectors.
	for _, c := range builtinByName(t, Env{Sysroot: root, DiagAddr: "0.0.0.0:3999"})["teleport"].Collectors {
		if c.Kind == KindHTTP && !strings.HasPrefix(c.URL, "http://127.0.0.1:3999/") {
			t.Errorf("diag url %s ignores env.DiagAddr", c.URL)
		}
	}
	for _, c := range builtinByName(t, Env{Sysroot: t.TempDir()})["teleport"].Collectors {
		if c.Kind == KindHTTP {
			t.Errorf("http collector %s without a diag address", c.URL)
		}
	}
	// Without a known host id the placeholder stays for the runner.
	if c := builtinByName(t, Env{Sysroot: root})["teleport"].Collectors[0]; c.Output != "nodes/{host}/teleport.yaml" {
		t.Errorf("output %q, want the {host} placeholder", c.Output)
	}
}

// One tctl call per kind, secrets off in the form tctl's parser takes, never `get all`.
func TestTeleportProfileGetsEachKindSeparatelyWithoutSecrets(t *testing.T) {
	tp := builtinByName(t, Env{Sysroot: fixturetest.Testdata(t) + "/fixtures/teleport-node"})["teleport"]
	got := map[string]int{}
	for _, c := range tp.Collectors {
		if c.Kind != KindRun || c.Command[0] != "tctl" || c.Command[1] != "get" {
			continue
		}
		kind := c.Command[2]
		got[kind]++
		if want := []string{"tctl", "get", kind, "--format=yaml", "--no-with-secrets"}; !slices.Equal(c.Command, want) {
			t.Errorf("command %q, want %q", c.Command, want)
		}
		if c.Output != "objects/tctl_get_"+kind+".yaml" {
			t.Errorf("%s: output %s", kind, c.Output)
		}
	}
	for _, c := range tp.Collectors {
		for _, a := range c.Command {
			if a == "all" || strings.HasPrefix(a, "--with-secrets") {
				t.Errorf("forbidden argument %q in %q", a, c.Command)
			}
		}
	}
	for _, k := range []string{
		"user", "role", "token", "connectors", "github", "oidc", "saml", "cert_authority",
		"cluster_auth_preference", "cluster_networking_config", "session_recording_config",
		"node", "proxy", "auth_server", "tunnel", "trusted_cluster", "remote_cluster",
		"kube_server", "app", "db", "windows_desktop", "lock", "namespace", "semaphore",
		"device", "access_list", "bot", "login_rule",
	} {
		if got[k] != 1 {
			t.Errorf("kind %s fetched %d times, want 1", k, got[k])
		}
	}
}

// tctl on a host whose config turns auth off would fail every call.
func TestTeleportProfileSkipsTctlWithoutAuth(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/teleport.yaml", "teleport:\n  auth_token: x\nauth_service:\n  enabled: no\nproxy_service:\n  enabled: no\n")
	for _, c := range builtinByName(t, Env{Sysroot: root})["teleport"].Collectors {
		if c.Category == "objects" {
			t.Errorf("tctl collector %s on a node without auth", c.Name)
		}
	}
}

// runCollectors runs the run collectors of a profile that use tool, with the
// fake tools first in PATH, and returns stdout and stderr by output.
func runCollectors(t *testing.T, p Profile, tool string) (stdout, stderr map[string]string, codes map[string]int) {
	t.Helper()
	fixturetest.UseFakeTools(t)
	stdout, stderr, codes = map[string]string{}, map[string]string{}, map[string]int{}
	for _, c := range p.Collectors {
		if c.Kind != KindRun || c.Command[0] != tool {
			continue
		}
		var out, errb bytes.Buffer
		cmd := exec.Command(c.Command[0], c.Command[1:]...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%q: %v", c.Command, err)
		}
		stdout[c.Output], stderr[c.Output], codes[c.Output] = out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	return stdout, stderr, codes
}

// Against a tctl that parses flags as tctl does: secrets stay out, known
// kinds give YAML, enterprise-only kinds leave the Community Edition error.
func TestTctlCommandsAgainstFakeTctl(t *testing.T) {
	tp := builtinByName(t, Env{Sysroot: fixturetest.Testdata(t) + "/fixtures/teleport-node"})["teleport"]
	stdout, stderr, codes := runCollectors(t, tp, "tctl")
	for out, s := range stdout {
		if strings.Contains(s, "private_key") || strings.Contains(s, "client_secret") {
			t.Errorf("%s has secrets: --no-with-secrets not honoured:\n%s", out, s)
		}
		if strings.Contains(stderr[out], "unexpected") || strings.Contains(stderr[out], "unknown long flag") {
			t.Errorf("%s: tctl rejected the arguments: %s", out, stderr[out])
		}
		if strings.HasSuffix(out, ".yaml") && codes[out] == 0 {
			dec := yaml.NewDecoder(strings.NewReader(s))
			for {
				var v any
				if err := dec.Decode(&v); err != nil {
					if err.Error() != "EOF" {
						t.Errorf("%s: not YAML: %v", out, err)
					}
					break
				}
			}
		}
	}
	if !strings.Contains(stdout["objects/tctl_get_user.yaml"], "name: alice") {
		t.Errorf("tctl get user: %q", stdout["objects/tctl_get_user.yaml"])
	}
	if codes["objects/tctl_get_access_list.yaml"] == 0 || !strings.Contains(stderr["objects/tctl_get_access_list.yaml"], "Community Edition") {
		t.Errorf("enterprise kind: code %d stderr %q", codes["objects/tctl_get_access_list.yaml"], stderr["objects/tctl_get_access_list.yaml"])
	}
	if codes["objects/tctl_status.txt"] != 0 || !strings.Contains(stdout["objects/tctl_status.txt"], "Cluster") {
		t.Errorf("tctl status failed: %q", stderr["objects/tctl_status.txt"])
	}
}

func TestKubeAndK3sCommandsAgainstFakeTools(t *testing.T) {
	ps := builtinByName(t, Env{Sysroot: fixturetest.Testdata(t) + "/fixtures/k3s-server"})
	for _, tc := range []struct {
		profile, tool string
	}{{"kube", "kubectl"}, {"k3s", "k3s"}, {"k3s", "crictl"}} {
		stdout, stderr, codes := runCollectors(t, ps[tc.profile], tc.tool)
		if len(stdout) == 0 {
			t.Errorf("%s: no %s collectors", tc.profile, tc.tool)
		}
		for out, code := range codes {
			if code != 0 {
				t.Errorf("%s %s: exit %d: %s", tc.profile, out, code, stderr[out])
			}
		}
	}
}

// Pod logs are read once: k3s's kube_logs (kube-system through `k3s
// kubectl`) gives way to the kube profile's when that reaches the cluster.
func TestKubeProfileReplacesK3sLogs(t *testing.T) {
	withProfiles(t)
	builtinProfiles = Builtin
	old := kubeProbe
	t.Cleanup(func() { kubeProbe = old })
	kubeProbe = func(_ context.Context, t KubeTarget, _ []string) *KubeCluster {
		return &KubeCluster{Target: t, Ready: true, Namespaces: []string{"kube-system", "teleport"}, Namespaced: []string{"pods", "secrets"}}
	}
	for _, tc := range []struct {
		profiles []string
		want     []string // outputs of the kube_logs collectors
	}{
		{[]string{"k3s"}, []string{"kube"}},
		{[]string{"k3s", "kube"}, []string{"kube/kube-system", "kube/teleport"}},
	} {
		opts := testOptions(t)
		opts.Profiles = tc.profiles
		p, err := NewPlan(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, pr := range p.Profiles {
			for _, c := range pr.Collectors {
				if c.Kind == KindKubeLogs {
					got = append(got, c.Output)
				}
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: kube_logs outputs %q, want %q", tc.profiles, got, tc.want)
		}
	}
}

// The host profile's commands run here for real: whatever the host lacks or
// forbids, none of them may be rejected for its arguments.
func TestHostCommandsAcceptTheirArguments(t *testing.T) {
	usage := regexp.MustCompile(`(?i)invalid option|unrecognized option|unknown option|illegal option|invalid argument|usage:`)
	for _, c := range builtinByName(t, Env{Sysroot: "/"})["host"].Collectors {
		if c.Kind != KindRun {
			continue
		}
		if _, err := exec.LookPath(c.Command[0]); err != nil {
			if !c.Optional {
				t.Logf("%s: %s not on this host", c.Name, c.Command[0])
			}
			continue
		}
		out, _ := exec.Command(c.Command[0], c.Command[1:]...).CombinedOutput()
		if usage.Match(out) {
			t.Errorf("%q rejected its arguments:\n%s", c.Command, out)
		}
	}
}

// Without kubectl the kube part ends at once, saying so at the top.
func TestKubeWithoutKubectl(t *testing.T) {
	withProfiles(t)
	builtinProfiles = Builtin
	t.Setenv("PATH", t.TempDir())
	opts := testOptions(t)
	opts.Profiles = []string{"kube"}
	res := mustRun(t, opts)
	if r := result(t, res, "kube-health"); r.Status != StatusFailed || !strings.Contains(r.Error, "kubectl is not installed") {
		t.Errorf("kube-health: %s %q", r.Status, r.Error)
	}
	if s := res.Summary(); !strings.HasPrefix(s, "kube: kubectl is not installed") {
		t.Errorf("summary does not start with the cause:\n%s", s)
	}
	if n := res.Plan.Collectors(); n != 2 {
		t.Errorf("%d kube collectors planned, want health and contexts only", n)
	}
}
