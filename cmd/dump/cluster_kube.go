package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/internal/fleet"
	"github.com/dumptool/dump/internal/nodepods"
)

// nodeFleet is how a cluster dump reaches its nodes.
type nodeFleet interface {
	// Nodes names the nodes to gather.
	Nodes(ctx context.Context) ([]string, error)
	// Run runs every job on its node, a bounded number at once, and returns
	// one result per job, in order. Its error is for the run as a whole;
	// one node failing is only that node's Result.Err. Whatever it created
	// on the nodes or in the cluster is gone when it returns.
	Run(ctx context.Context, jobs []fleet.Job) ([]fleet.Result, error)
}

// openFleet is the fleet of --cluster: the hosts of --hosts, or the
// Kubernetes cluster of kubectl's --kubeconfig and --context.
func openFleet(c *cli.Context, u *ui, id string) (nodeFleet, error) {
	if f, ok, err := hostsFleet(c, u); ok {
		return f, err
	}
	return kubeFleet{c: c, u: u, id: id, k: nodepods.Kubectl{Kubeconfig: c.String("kubeconfig"), Context: c.String("context")}}, nil
}

// kubeFleet runs one short-lived pod per node (internal/nodepods).
type kubeFleet struct {
	c  *cli.Context
	u  *ui
	id string
	k  nodepods.Kubectl
}

func (f kubeFleet) Nodes(ctx context.Context) ([]string, error) {
	if names := f.c.StringSlice("nodes"); len(names) > 0 {
		return names, nil
	}
	return nodepods.ListNodes(ctx, f.k, f.c.String("node-selector"))
}

func (f kubeFleet) Run(ctx context.Context, jobs []fleet.Job) ([]fleet.Result, error) {
	results, err := nodepods.Run(ctx, nodepods.Options{
		Kubectl: f.k, Namespace: f.c.String("node-namespace"), Session: f.id, Image: f.c.String("image"), PriorityClass: f.c.String("priority-class"),
		Concurrency: f.c.Int("node-concurrency"), NodeTimeout: f.c.Duration("node-timeout"), Progress: f.u.notef,
	}, jobs)
	if err != nil {
		return results, fmt.Errorf("%w (the node pods were deleted)", err)
	}
	return results, nil
}

// summary says which cluster the node pods go to and what they run, for
// gather-upload-confirm.
func (f kubeFleet) summary(ctx context.Context) []string {
	name, server, err := f.k.Current(ctx)
	if err != nil {
		name, server = "?", err.Error()
	}
	return []string{
		fmt.Sprintf("cluster:     context %s (%s)", name, server),
		fmt.Sprintf("node pods:   in namespace %s, image %s, %d at once, each deleted when done (--node-timeout %s)",
			f.c.String("node-namespace"), f.c.String("image"), f.c.Int("node-concurrency"), f.c.Duration("node-timeout")),
		"on each:     dump gather --sysroot /host: the node's root mounted read-only, host PID and network, no API access",
	}
}
