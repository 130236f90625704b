package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/gather/redact"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
)

func gatherCommand() *cli.Command {
	flags := append(outputFlags(), collectFlags()...)
	flags = append(flags, recipientFlags()...)
	flags = append(flags,
		stringFlag("out", "directory for the dump file", "."),
		boolFlag("encrypt", "also seal the dump for the support recipients"),
		boolFlag("dry-run", "print what would run, per profile, and stop"),
		splitFlag(),
		// No DUMP_TICKET here: that is gather-upload's ticket for a whole dump.
		&cli.StringFlag{Name: "ticket", Usage: "a node ticket of a cluster dump: seal to the one --recipient and upload this node's part (what node pods run)"},
		&cli.BoolFlag{Name: "stdout", Usage: "a node part of an offline cluster dump: seal to the one --recipient and write it to stdout (what each node runs)"},
		nodeMaxSizeFlag(),
	)
	flags = append(flags, clusterFlags()...)
	return &cli.Command{
		Name:  "gather",
		Usage: "gather and pack a dump locally (with --encrypt also seal it)",
		Flags: flags,
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.Bool("dry-run") {
				opts, err := gatherOptions(c, "")
				if err != nil {
					return err
				}
				plan, err := gather.NewPlan(c.Context, opts)
				if err != nil {
					return err
				}
				return plan.WriteDryRun(u.out)
			}
			if c.String("ticket") != "" || c.Bool("stdout") {
				return gatherNodePart(c, u)
			}
			if err := checkHostsFlags(c); err != nil {
				return err
			}
			rs, err := localRecipients(c)
			if err != nil {
				return err
			}
			if c.Bool("cluster") {
				return gatherCluster(c, u, rs)
			}
			g, err := runGather(c, u)
			if err != nil {
				return err
			}
			defer g.cleanup()
			path, err := writeLocal(c, u, g, rs)
			if err != nil {
				return err
			}
			u.resultf("%s", path)
			return g.exit()
		},
	}
}

// localRecipients checks gather's sealing flags: the support recipients
// with --encrypt, none without.
func localRecipients(c *cli.Context) (recipientsOf, error) {
	if c.String("split") != "" && !c.Bool("encrypt") {
		return recipientsOf{}, usageErrorf("--split cuts the sealed payload into parts: add --encrypt")
	}
	if !c.Bool("encrypt") {
		return recipientsOf{}, nil
	}
	return recipients(c, true)
}

// writeLocal packs the gathered tree into --out, and with --encrypt seals it
// for rs; it returns the path of the payload.
func writeLocal(c *cli.Context, u *ui, g *gathered, rs recipientsOf) (string, error) {
	out := c.String("out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	if c.Bool("encrypt") {
		sealed, err := seal(c, u, g.tree, g.uuid, out, rs, true, nil)
		if err != nil {
			return "", err
		}
		return sealed.PayloadPath, nil
	}
	path := filepath.Join(out, layout.PackedName(g.uuid))
	stats, err := crypto.PackFile(c.Context, g.tree, path, crypto.PackOptions{Prefix: layout.MemberPrefix(g.uuid)})
	if err != nil {
		return "", fmt.Errorf("pack: %w", err)
	}
	u.notef("packed %d files, %s -> %s (not encrypted: do not send it over an untrusted channel; gather --encrypt seals it)",
		stats.Files, human.Bytes(stats.Bytes), human.Bytes(stats.Compressed))
	return path, nil
}

// gathered is a tree on disk in a private temporary directory.
type gathered struct {
	uuid     string
	work     string // 0700 temp dir holding the tree; removed by cleanup
	tree     string // work/dump-<uuid>
	result   *gather.Result
	redactor *redact.Redactor
}

func (g *gathered) cleanup() { os.RemoveAll(g.work) }

// exit is errIncomplete when some collectors failed: the dump was still written.
func (g *gathered) exit() error {
	if g.result.Incomplete() {
		return errIncomplete
	}
	return nil
}

func gatherOptions(c *cli.Context, dir string) (gather.Options, error) {
	maxFile, err := sizeFlag(c, "max-file-size")
	if err != nil {
		return gather.Options{}, err
	}
	maxSize, err := sizeFlag(c, "max-size")
	if err != nil {
		return gather.Options{}, err
	}
	// A broken spec is the user's to fix: say so before any work is done.
	for _, spec := range c.StringSlice("spec") {
		if _, err := gather.LoadSpec(spec); err != nil {
			return gather.Options{}, usageErrorf("--spec: %v", err)
		}
	}
	kube, err := kubeTarget(c)
	if err != nil {
		return gather.Options{}, err
	}
	r, err := newRedactor(c)
	if err != nil {
		return gather.Options{}, err
	}
	return gather.Options{
		Kube:             kube,
		Dir:              dir,
		ToolVersion:      version,
		Sysroot:          c.String("sysroot"),
		Profiles:         c.StringSlice("profile"),
		SpecFiles:        c.StringSlice("spec"),
		Since:            c.Duration("since"),
		Timeout:          c.Duration("timeout"),
		CollectorTimeout: c.Duration("collector-timeout"),
		MaxFileSize:      maxFile,
		MaxSize:          maxSize,
		Concurrency:      c.Int("concurrency"),
		NoCloudDetect:    c.Bool("no-cloud-detect"),
		DiagAddr:         c.String("diag-addr"),
		Redactor:         r,
	}, nil
}

// kubeTarget reads kubectl's own flags.
func kubeTarget(c *cli.Context) (gather.KubeTarget, error) {
	t := gather.KubeTarget{Kubeconfig: c.String("kubeconfig"), Context: c.String("context"),
		Namespaces: c.StringSlice("namespace"), AllNamespaces: c.Bool("all-namespaces")}
	if t.AllNamespaces && len(t.Namespaces) > 0 {
		return t, usageErrorf("--namespace and --all-namespaces exclude each other: give one")
	}
	for _, ns := range t.Namespaces {
		if !gather.IsKubeName(ns) {
			return t, usageErrorf("--namespace %q is not a Kubernetes namespace name (lowercase letters, digits, '-')", ns)
		}
	}
	return t, nil
}

// runGather gathers into a private temporary tree and prints the summary;
// outcomes of work done elsewhere (node parts) join its report.
func runGather(c *cli.Context, u *ui, outcomes ...gather.CollectorResult) (*gathered, error) {
	id, err := newUUID(c)
	if err != nil {
		return nil, err
	}
	work, note, err := gather.WorkDir(c.String("out"))
	if err != nil {
		return nil, err
	}
	if note != "" {
		u.notef("%s", note)
	}
	g := &gathered{uuid: id, work: work, tree: filepath.Join(work, layout.DirName(id))}
	opts, err := gatherOptions(c, g.tree)
	if err != nil {
		g.cleanup()
		return nil, err
	}
	opts.UUID = id
	opts.Outcomes = outcomes
	g.redactor = opts.Redactor
	progress := newGatherProgress(u)
	opts.Progress = progress
	u.notef("gathering dump %s", id)
	res, err := gather.Run(c.Context, opts)
	progress.stop()
	if err != nil {
		g.cleanup()
		return nil, fmt.Errorf("gather: %w", err)
	}
	g.result = res
	u.notef("%s", res.Summary())
	if res.Incomplete() {
		u.warnf("the dump is incomplete: some collectors failed (report.txt and index.html in the dump say which and why)")
	}
	if p := c.String("obfuscation-map"); p != "" {
		if err := g.redactor.WriteObfuscationMap(p); err != nil {
			g.cleanup()
			return nil, fmt.Errorf("--obfuscation-map: %w", err)
		}
		u.notef("obfuscation map written to %s (keep it: it is the only way back to the real names, and it is not in the dump)", p)
	}
	return g, nil
}
