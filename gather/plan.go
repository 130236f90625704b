package gather

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dumptool/dump/internal/human"
)

// The profiles' side of the engine, as variables so that tests can run
// hand-made profiles.
var (
	builtinProfiles = Builtin
	detectProfiles  = Detect
	hostIDOf        = HostID
	censusFunc      = Census
	diagAddrOf      = DiagAddrFromConfig
	kubeProbe       = probeKube
)

// Builtin returns the built-in profiles, in the order they are shown:
// host, k3s, teleport and kube. Outputs under nodes/ and systemd/ carry
// env.HostID when it is known (else the "{host}" placeholder the runner
// expands), and the teleport diag collectors use env.DiagAddr, or else
// teleport.diag_addr from teleport.yaml under env.Sysroot.
func Builtin(env Env) []Profile {
	if env.Sysroot == "" {
		env.Sysroot = "/"
	}
	if env.DiagAddr == "" {
		env.DiagAddr = DiagAddrFromConfig(env.Sysroot)
	}
	ps := []Profile{hostProfile(), k3sProfile(), teleportProfile(env), kubeProfile(env)}
	if env.HostID != "" {
		for i := range ps {
			for j := range ps[i].Collectors {
				c := &ps[i].Collectors[j]
				c.Output = strings.ReplaceAll(c.Output, "{host}", env.HostID)
			}
		}
	}
	return ps
}

// CheckProfiles refuses a name --profile does not accept, before any work:
// a built-in profile, "auto", or "none" (only the --spec collectors).
func CheckProfiles(names []string) error {
	var known []string
	for _, pr := range builtinProfiles(Env{Sysroot: "/", DiagAddr: "unused"}) { // names only: nothing is read
		known = append(known, pr.Name)
	}
	for _, name := range names {
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "auto" && name != "none" && !slices.Contains(known, name) {
			return fmt.Errorf("unknown profile %q: use %s, auto or none", name, strings.Join(known, ", "))
		}
	}
	return nil
}

// Plan is what a run will do: the environment, what was detected, and the
// profiles with their collectors ({host} expanded, --spec collectors appended
// as a last profile, later collectors writing an output already taken removed).
type Plan struct {
	Env       Env
	Detected  []Detection
	Profiles  []Profile
	Requested []string // --profile as given

	opts Options
}

// NewPlan works out what Run would do with opts, without running anything.
func NewPlan(ctx context.Context, opts Options) (*Plan, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	id, src := hostIDOf(opts.Sysroot)
	diag := opts.DiagAddr
	if diag == "" {
		diag = diagAddrOf(opts.Sysroot)
	}
	env := Env{Sysroot: opts.Sysroot, HostID: id, HostIDSource: src, Since: opts.Since, DiagAddr: diag, NoCloudDetect: opts.NoCloudDetect, KubeTarget: opts.Kube}
	p := &Plan{Env: env, Requested: opts.Profiles, opts: opts}

	builtin := map[string]Profile{}
	for _, pr := range builtinProfiles(env) {
		builtin[pr.Name] = pr
	}
	var want []string
	for _, name := range opts.Profiles {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "auto":
			for _, d := range detectProfiles(ctx, env) {
				p.Detected = append(p.Detected, d)
				want = append(want, d.Profile)
			}
		case name == "none":
		case builtin[name].Name != "":
			p.Detected = append(p.Detected, Detection{Profile: name, Reason: "requested with --profile"})
			want = append(want, name)
		default:
			return nil, CheckProfiles([]string{name})
		}
	}

	if slices.Contains(want, "kube") && builtin["kube"].Name != "" {
		// The kube profile's collectors depend on what the API server says.
		env.Kube = kubeProbe(ctx, env.KubeTarget, want)
		p.Env = env
		for _, pr := range builtinProfiles(env) {
			if pr.Name != "kube" && env.Kube.Unreachable == "" {
				// The kube profile reads the pods itself (k3s's reads kube-system).
				pr.Collectors = slices.DeleteFunc(slices.Clone(pr.Collectors), func(c Collector) bool { return c.Kind == KindKubeLogs })
			}
			builtin[pr.Name] = pr
		}
	}

	// kind and output -> collector (the kube kinds share directories)
	taken := map[string]string{}
	add := func(pr Profile, fromSpec bool) error {
		out := Profile{Name: pr.Name, Description: pr.Description}
		for _, c := range pr.Collectors {
			c = expand(c, env)
			if _, err := c.validate(); err != nil {
				if fromSpec {
					return err
				}
				slog.Warn("collector left out", "profile", pr.Name, "err", err)
				continue
			}
			if other, dup := taken[string(c.Kind)+" "+c.Output]; dup {
				slog.Debug("collector left out: output already taken", "collector", c.Name, "by", other)
				continue
			}
			taken[string(c.Kind)+" "+c.Output] = c.Name
			out.Collectors = append(out.Collectors, c)
		}
		if len(out.Collectors) > 0 {
			p.Profiles = append(p.Profiles, out)
		}
		return nil
	}
	seen := map[string]bool{}
	for _, name := range want {
		if seen[name] || builtin[name].Name == "" {
			continue
		}
		seen[name] = true
		add(builtin[name], false)
	}
	for _, file := range opts.SpecFiles {
		cs, err := LoadSpec(file)
		if err != nil {
			return nil, err
		}
		if err := add(Profile{Name: "spec:" + filepath.Base(file), Description: "from --spec " + file, Collectors: cs}, true); err != nil {
			return nil, fmt.Errorf("spec %s: %w", file, err)
		}
	}
	return p, nil
}

// Collectors is the number of collectors in the plan.
func (p *Plan) Collectors() int {
	n := 0
	for _, pr := range p.Profiles {
		n += len(pr.Collectors)
	}
	return n
}

func (p *Plan) tasks() []*task {
	var ts []*task
	for _, pr := range p.Profiles {
		for _, c := range pr.Collectors {
			ts = append(ts, &task{c: c, profile: pr.Name})
		}
	}
	return ts
}

// WriteDryRun prints, per profile, what Run would do.
func (p *Plan) WriteDryRun(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "host id: %s (%s)\n", p.Env.HostID, p.Env.HostIDSource)
	fmt.Fprintf(tw, "sysroot: %s\n", p.Env.Sysroot)
	for _, d := range p.Detected {
		fmt.Fprintf(tw, "profile %s: %s\n", d.Profile, d.Reason)
	}
	for _, pr := range p.Profiles {
		fmt.Fprintf(tw, "\n%s: %d collectors", pr.Name, len(pr.Collectors))
		if pr.Description != "" {
			fmt.Fprintf(tw, " (%s)", pr.Description)
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "  KIND\tOUTPUT\tSOURCE\tTIMEOUT")
		for _, c := range pr.Collectors {
			t := c.Timeout
			if t == 0 {
				t = Duration(p.opts.CollectorTimeout)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Kind, c.Output, describe(c, p.Env), t)
		}
	}
	fmt.Fprintf(tw, "\n%d collectors, %d at a time, whole run within %s, files capped at %s (tail kept), dump within %s, --since %s\n",
		p.Collectors(), p.opts.Concurrency, p.opts.Timeout, human.Bytes(p.opts.MaxFileSize), human.Bytes(p.opts.MaxSize), p.opts.Since)
	return tw.Flush()
}
