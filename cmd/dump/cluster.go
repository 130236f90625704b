package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fleet"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/internal/nodepods"
	"github.com/dumptool/dump/internal/tracing"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/ticket"
)

// defaultImage is the dump image node pods run; a vendor build sets it
// with -ldflags -X.
var defaultImage = "ghcr.io/dumptool/dump:latest"

func clusterFlags() []cli.Flag {
	flags := []cli.Flag{
		boolFlag("cluster", "also gather every node of the Kubernetes cluster (one short-lived pod per node), or every host of --hosts (docs/cluster-mode.md)"),
		sliceFlag("nodes", "with --cluster: only these nodes (NAME,...)"),
		stringFlag("node-selector", "with --cluster: only nodes with these labels (kubectl -l syntax)", ""),
		stringFlag("node-namespace", "with --cluster: the existing namespace the node pods run in", "default"),
		stringFlag("image", "with --cluster: the dump image the node pods run", defaultImage),
		countFlag("node-concurrency", "with --cluster: node pods at once", 10),
		durationFlag("node-timeout", "with --cluster: deadline of each node's pod", 10*time.Minute),
		stringFlag("priority-class", "with --cluster: the PriorityClass of the node pods (an existing low one, preemptionPolicy Never)", ""),
	}
	return append(flags, hostsFlags()...)
}

func cleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "delete what an interrupted cluster dump left in the cluster (its labelled pods and ServiceAccount)",
		Flags: append(outputFlags(),
			boolFlag("cluster", "the Kubernetes cluster of kubectl's --kubeconfig and --context (required)"),
			stringFlag("kubeconfig", "kubectl's kubeconfig (default: $KUBECONFIG, ~/.kube/config)", ""),
			stringFlag("context", "kubectl's context (default: the current context)", ""),
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if !c.Bool("cluster") {
				return usageErrorf("cleanup works on a cluster: pass --cluster")
			}
			k := nodepods.Kubectl{Kubeconfig: c.String("kubeconfig"), Context: c.String("context")}
			if err := nodepods.Cleanup(c.Context, k, "", ""); err != nil {
				return err
			}
			u.notef("deleted every pod and ServiceAccount labelled %s", nodepods.LabelKey)
			return nil
		},
	}
}

// gatherUploadCluster is gather-upload --cluster: one pod per node uploads
// that node's part through its own ticket; this process gathers the cluster
// part (with the node outcomes in its report), seals it with the same
// session key and uploads it with info.json listing every node.
func gatherUploadCluster(c *cli.Context, u *ui, mode uploadMode) error {
	asking := mode == modeConfirm && !c.Bool("yes")
	dest, err := openDestination(c, u)
	if err != nil {
		return err
	}
	p, ok := dest.store.(upload.Presigner)
	if dest.ticket != nil || !ok {
		return usageErrorf("--cluster gives each node a ticket of its own: pass --to an s3:// or gs:// bucket the initiator can sign uploads for")
	}
	rs, err := recipients(c, mode != modeNoMeta)
	if err != nil {
		return err
	}
	id, fl, names, err := openCluster(c, u)
	if err != nil {
		return err
	}
	if err := checkDestination(c, u, dest, id); err != nil {
		return err
	}
	if asking {
		if err := confirmCluster(c, u, fl, names, dest, rs, id); err != nil {
			return err
		}
	}
	out := c.String("out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	session, err := age.GenerateX25519Identity()
	if err != nil {
		return fmt.Errorf("generate session key: %w", err)
	}
	jobs := make([]fleet.Job, len(names))
	for i, n := range names {
		jobs[i] = fleet.Job{Node: n, Args: nodeUploadArgs(p, c.String("to"), id, n, session.Recipient().String(), c.Duration("node-timeout"))}
	}
	u.notef("cluster dump %s: %d node(s), %d at once", id, len(jobs), c.Int("node-concurrency"))
	results, err := fl.Run(c.Context, jobs)
	if err != nil {
		return fmt.Errorf("cluster dump: %w", err)
	}
	outcomes, parts, failed := nodeOutcomes(c.Context, results)

	g, err := runGather(c, u, outcomes...)
	if err != nil {
		return err
	}
	defer g.cleanup()
	sealed, err := crypto.Seal(c.Context, g.tree, crypto.SealOptions{UUID: id, Recipients: rs.list,
		IncludeKey: mode != modeNoMeta, OutDir: out, ToolVersion: version, Session: session})
	if err != nil {
		return fmt.Errorf("%w (the node parts are in the bucket; the cluster part was not uploaded)", err)
	}
	if asking {
		u.warnf("\n%d of %d node parts are in the bucket; they open only with this dump's key", len(results)-len(failed), len(results))
		withKey, err := confirmUpload(u, g, sealed, dest, rs, out)
		if err != nil {
			u.warnf("without the cluster part and its key, the node parts in the bucket cannot be opened by anyone")
			return err
		}
		if !withKey {
			mode = modeNoMeta
		}
	}
	sealed.Info.Schema, sealed.Info.Nodes = layout.InfoSchemaCluster, parts
	if err := rewriteInfo(sealed); err != nil {
		return err
	}
	if mode == modeNoMeta {
		u.warnf("the key is not uploaded: give support this line by another channel (it opens the dump and every node part; it is shown only now):")
		u.resultf("key=%s", sealed.SessionKey)
	}
	if err := uploadParts(c, u, dest, id, sealedUpload(sealed)); err != nil {
		u.warnf("upload failed: %v", err)
		u.warnf("the sealed cluster part is kept in %s; retry with:\n  %s", out, retryCommand(dest, sealed))
		return &exitError{code: exitFailed}
	}
	removeParts(u, sealed)
	u.notef("uploaded to %s/%s: %d of %d node parts", strings.TrimSuffix(destName(dest), "/"), id, len(results)-len(failed), len(results))
	if len(failed) > 0 {
		u.warnf("the dump is incomplete: no part from %d node(s): %s", len(failed), strings.Join(failed, "; "))
		u.resultf("%s", id)
		return errIncomplete
	}
	u.resultf("%s", id)
	return g.exit()
}

// nodeUploadArgs are node's arguments in gather-upload --cluster. Its
// ticket is signed when its turn comes, so it is valid for that node's time
// only, however long the nodes before it took. A ticket that cannot be
// signed costs that node its part, not the run.
func nodeUploadArgs(p upload.Presigner, to, id, node, recipient string, timeout time.Duration) fleet.ArgsFunc {
	return func(ctx context.Context) ([]string, error) {
		tk, err := ticket.CreateNode(ctx, p, to, id, node, nodeTicketLife(timeout))
		switch {
		case err == nil:
			return []string{"gather", "--recipient", recipient, "--ticket", tk}, nil
		case ctx.Err() != nil: // interrupted or out of time, not a signing problem
			return nil, err
		default:
			return nil, &gather.KindError{Kind: gather.FailTicketSigning, Err: fmt.Errorf("sign its upload ticket: %w", err)}
		}
	}
}

// nodeTicketLife is how long a node's ticket is valid, signed right before
// the node starts. The node gathers and uploads within its deadline (its
// pod's activeDeadlineSeconds, a host's --node-timeout); the hour more is for
// clocks, as the node checks the ticket's expiry by its own clock and the
// bucket each PUT by its own. Presigned URLs live 7 days at most (S3, GCS).
func nodeTicketLife(timeout time.Duration) time.Duration {
	return min(timeout+time.Hour, 7*24*time.Hour)
}

// openCluster makes a cluster dump's uuid, opens its fleet and names the
// nodes it gathers.
func openCluster(c *cli.Context, u *ui) (id string, fl nodeFleet, names []string, err error) {
	if id, err = newUUID(c); err != nil {
		return "", nil, nil, err
	}
	if err = c.Set("uuid", id); err != nil {
		return "", nil, nil, err
	}
	if fl, err = openFleet(c, u, id); err != nil {
		return "", nil, nil, err
	}
	if names, err = fl.Nodes(c.Context); err != nil {
		return "", nil, nil, err
	}
	for _, n := range names {
		if err := layout.CheckNodeName(n); err != nil {
			return "", nil, nil, usageErrorf("--nodes: %v", err)
		}
	}
	if len(names) == 0 {
		return "", nil, nil, usageErrorf("no node matches: check --nodes or --node-selector (kubectl get nodes lists them)")
	}
	return id, fl, names, nil
}

// nodeOutcomes turns the nodes' results into the cluster part's collector
// results (one "node <name>" per node), info.json's node list and a line per
// node without a part. Each node also becomes a span of the run's trace.
func nodeOutcomes(ctx context.Context, results []fleet.Result) (outcomes []gather.CollectorResult, parts []layout.NodePart, failed []string) {
	tr := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracing.Name)
	for _, r := range results {
		started := r.Started
		if started.IsZero() {
			started = time.Now()
		}
		res := gather.CollectorResult{Name: "node " + r.Node, Category: "nodes", Kind: "node", Profile: "cluster",
			Source: "node " + r.Node, Status: gather.StatusOK, Started: started.UTC(), DurationMS: r.Took.Milliseconds(),
			Outputs: []string{"nodes/" + r.Node + "/"}}
		part := layout.NodePart{Name: r.Node}
		_, span := tr.Start(ctx, "node", trace.WithTimestamp(started), trace.WithAttributes(attribute.String("node", r.Node)))
		if r.Err != nil {
			res.Status, res.Error, res.FailureKind, res.Outputs = gather.StatusFailed, r.Err.Error(), gather.ClassifyErr(r.Err), nil
			part.Error = r.Err.Error()
			failed = append(failed, r.Node+" ("+r.Err.Error()+")")
			span.SetAttributes(attribute.String("failure_kind", string(res.FailureKind)))
			span.SetStatus(codes.Error, r.Err.Error())
		}
		span.End(trace.WithTimestamp(started.Add(r.Took)))
		outcomes = append(outcomes, res)
		parts = append(parts, part)
	}
	return outcomes, parts, failed
}

// confirmCluster shows what a cluster dump is about to do and asks, before
// anything is created in the cluster or on a node.
func confirmCluster(c *cli.Context, u *ui, fl nodeFleet, names []string, dest *destination, rs recipientsOf, id string) error {
	u.warnf("\nAbout to gather cluster dump %s", id)
	if k, ok := fl.(kubeFleet); ok {
		for _, l := range k.summary(c.Context) {
			u.warnf("  %s", l)
		}
	} else {
		u.warnf("  hosts:       over %s; each runs dump gather on its own root (the binary is copied when its sha256 differs)", c.String("transport"))
	}
	shown := names[:min(len(names), 5)]
	more := ""
	if len(names) > len(shown) {
		more = fmt.Sprintf(", and %d more", len(names)-len(shown))
	}
	u.warnf("  nodes:       %d (%s%s)", len(names), strings.Join(shown, ", "), more)
	u.warnf("  destination: %s (each node uploads its own sealed part there)", destName(dest))
	u.warnf("  recipients:  %s", strings.Join(rs.fingerprints, ", "))
	u.warnf("  secrets:     none leave this machine: a node gets the public session recipient and a write-only ticket for its own part; no key, no bucket credentials")
	ok, err := ask(u, "Gather these nodes?", false)
	if err != nil {
		return err
	}
	if !ok {
		u.warnf("nothing was created on the nodes and nothing was uploaded")
		return &exitError{code: exitFailed}
	}
	return nil
}
