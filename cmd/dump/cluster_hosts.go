package main

import (
	"context"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/internal/fleet"
	"github.com/dumptool/dump/internal/sshfleet"
)

func hostsFlags() []cli.Flag {
	return []cli.Flag{
		sliceFlag("hosts", "with --cluster: the hosts to gather over ssh or tsh instead of Kubernetes nodes ([user@]host[:port],...), or teleport: the nodes Teleport lists"),
		stringFlag("hosts-file", "with --cluster: a file of hosts to gather, one [user@]host[:port] per line", ""),
		stringFlag("transport", "with --hosts: ssh (OpenSSH's ssh and your ssh config) or tsh (Teleport's tsh ssh)", "ssh"),
		stringFlag("ssh-config", "with --hosts and --transport ssh: the ssh config file (ssh -F) instead of ~/.ssh/config", ""),
		boolFlag("sudo", "with --hosts: run dump on the hosts through sudo -n, for logins that are not root (passwordless sudo)"),
		sliceFlag("node-binary", "with --hosts: the dump binaries the hosts run, one per architecture; each host gets the one built for it (default: this binary)"),
	}
}

// hostsGiven says whether the cluster's nodes are hosts reached over ssh or
// tsh rather than Kubernetes nodes.
func hostsGiven(c *cli.Context) bool {
	return len(c.StringSlice("hosts")) > 0 || c.String("hosts-file") != ""
}

// checkHostsFlags refuses --hosts where it would be silently ignored.
func checkHostsFlags(c *cli.Context) error {
	if hostsGiven(c) && !c.Bool("cluster") {
		return usageErrorf("--hosts and --hosts-file name the nodes of a cluster dump: add --cluster")
	}
	return nil
}

// hostsFleet is the fleet of --hosts or --hosts-file; ok is false when
// neither is given.
func hostsFleet(c *cli.Context, u *ui) (_ nodeFleet, ok bool, _ error) {
	if !hostsGiven(c) {
		return nil, false, nil
	}
	t, err := sshfleet.ParseTransport(c.String("transport"))
	if err != nil {
		return nil, true, usageErrorf("--transport %v", err)
	}
	if len(c.StringSlice("nodes")) > 0 {
		return nil, true, usageErrorf("--nodes picks Kubernetes nodes: with --hosts, list just the hosts you want")
	}
	f := &sshfleet.Fleet{Transport: t, SSHConfig: c.String("ssh-config"), Sudo: c.Bool("sudo"), Binaries: c.StringSlice("node-binary"), Concurrency: c.Int("node-concurrency"),
		NodeTimeout: c.Duration("node-timeout"), Progress: u.notef}
	list, file := c.StringSlice("hosts"), c.String("hosts-file")
	switch {
	case len(list) > 0 && file != "":
		return nil, true, usageErrorf("give the hosts with --hosts or with --hosts-file, not both")
	case len(list) == 1 && list[0] == "teleport":
		return hostFleet{f: f, labels: c.String("node-selector")}, true, nil
	case c.String("node-selector") != "":
		return nil, true, usageErrorf("--node-selector picks nodes by label, from Kubernetes or with --hosts teleport: with a host list, list just the hosts you want")
	case file != "":
		r, err := os.Open(file)
		if err != nil {
			return nil, true, usageErrorf("--hosts-file: %v", err)
		}
		defer r.Close()
		if f.Hosts, err = sshfleet.ParseHosts(r); err != nil {
			return nil, true, usageErrorf("--hosts-file %s: %v", file, err)
		}
	default:
		for _, h := range list {
			if h == "teleport" {
				return nil, true, usageErrorf("--hosts teleport lists the hosts from Teleport: give it alone")
			}
		}
		if f.Hosts, err = sshfleet.ParseHosts(strings.NewReader(strings.Join(list, "\n"))); err != nil {
			return nil, true, usageErrorf("--hosts %v", err)
		}
	}
	return hostFleet{f: f}, true, nil
}

// hostFleet reaches hosts over ssh or tsh (internal/sshfleet); with no
// hosts listed it asks Teleport for them.
type hostFleet struct {
	f      *sshfleet.Fleet
	labels string // --node-selector, for Teleport's list
}

func (h hostFleet) Nodes(ctx context.Context) ([]string, error) {
	if h.f.Hosts == nil {
		hosts, err := sshfleet.TeleportHosts(ctx, h.f.Transport, h.labels)
		if err != nil {
			return nil, err
		}
		h.f.Hosts = hosts
	}
	return h.f.Nodes(), nil
}

func (h hostFleet) Run(ctx context.Context, jobs []fleet.Job) ([]fleet.Result, error) {
	return h.f.Run(ctx, jobs)
}
