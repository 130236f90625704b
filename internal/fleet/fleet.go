// Package fleet is what every way of reaching the nodes of a cluster dump
// shares: Kubernetes node pods (internal/nodepods) and hosts reached over
// ssh or tsh alike take a list of Jobs and give back one Result per node.
//
// A Job's dump command gathers the node and seals its part to the session
// recipient. Either the node uploads the part itself through its write-only
// ticket (Job.Stdout is nil), or, in an offline dump, the command writes the
// sealed part to its standard output and the transport copies it to
// Job.Stdout.
//
// A Job's arguments are made when its node's turn comes (Job.Args is called
// then), so a node's ticket is signed for that node's own time, not for
// however long the nodes before it may take.
package fleet

import (
	"context"
	"io"
	"time"
)

// Job is what to run on one node.
type Job struct {
	Node string
	// Args gives dump's arguments on the node ("gather", "--recipient",
	// ...). The transport calls it once, when the node's slot comes, right
	// before its command starts; an error fails that node only. The
	// transport adds the dump binary it runs there and, if the node's root
	// is mounted elsewhere (a pod's /host), --sysroot.
	Args ArgsFunc
	// Stdout, when set, receives the command's standard output (the node's
	// sealed part in an offline dump); nil when the node uploads its part.
	Stdout io.Writer
}

// ArgsFunc makes a job's arguments when its node's turn comes.
type ArgsFunc func(ctx context.Context) ([]string, error)

// Fixed is the ArgsFunc of arguments known from the start.
func Fixed(args ...string) ArgsFunc {
	return func(context.Context) ([]string, error) { return args, nil }
}

// Result is how one node went: Err is nil when its part arrived, and
// otherwise says why it did not (a *gather.KindError when the reason is
// known, so the report can say what to do).
type Result struct {
	Node    string
	Started time.Time // zero: the node was never started
	Took    time.Duration
	Err     error
}
