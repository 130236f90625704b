package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/decrypt"
	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/fleet"
)

func nodeMaxSizeFlag() cli.Flag {
	return sizeOption("node-max-size", "with gather --cluster: the largest sealed part a node may send back", 4<<30)
}

// gatherCluster is `dump gather --cluster`: one local dump holding every
// node, with no bucket (the small-cluster path of docs/cluster-mode.md).
//
// The initiator makes the session key. Each node seals its part to the
// session recipient and writes it to its stdout (gather --stdout), which the
// transport copies into a file here, up to --node-max-size. The initiator
// opens each part with the session identity through decrypt's extractor (a
// node is not trusted to write anywhere but its own nodes/<node>/), gathers
// its own cluster part with every node's outcome in its report, moves the
// node trees into nodes/<node>/, and packs (with --encrypt seals) the whole
// as gather always does. The transport is whatever openFleet gives: any
// fleet that honours fleet.Job.Stdout.
func gatherCluster(c *cli.Context, u *ui, rs recipientsOf) error {
	maxPart, err := sizeFlag(c, "node-max-size")
	if err != nil {
		return err
	}
	id, fl, names, err := openCluster(c, u)
	if err != nil {
		return err
	}
	session, err := age.GenerateX25519Identity()
	if err != nil {
		return fmt.Errorf("generate session key: %w", err)
	}
	stage, note, err := gather.WorkDir(c.String("out"))
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if note != "" {
		u.notef("%s", note)
	}
	parts := make([]*partFile, len(names))
	jobs := make([]fleet.Job, len(names))
	for i, n := range names {
		f, err := os.OpenFile(filepath.Join(stage, n+".tar.zst.age"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("cluster dump: %w", err)
		}
		defer f.Close()
		parts[i] = &partFile{f: f, left: maxPart}
		jobs[i] = fleet.Job{Node: n, Stdout: parts[i],
			Args: fleet.Fixed("gather", "--stdout", "--uuid", id, "--recipient", session.Recipient().String())}
	}
	u.notef("cluster dump %s: %d node(s), %d at once, each part back to this machine", id, len(jobs), c.Int("node-concurrency"))
	results, err := fl.Run(c.Context, jobs)
	if err != nil {
		return fmt.Errorf("cluster dump: %w", err)
	}
	for i := range results {
		results[i].Err = openNodePart(c, u, results[i], parts[i], maxPart, id, session, filepath.Join(stage, "nodes", results[i].Node))
	}
	outcomes, _, failed := nodeOutcomes(c.Context, results)

	g, err := runGather(c, u, outcomes...)
	if err != nil {
		return err
	}
	defer g.cleanup()
	for _, r := range results {
		if r.Err == nil {
			if err := placeTree(u, filepath.Join(stage, "nodes", r.Node), g.tree, filepath.Join("nodes", r.Node)); err != nil {
				return fmt.Errorf("cluster dump: node %s: %w", r.Node, err)
			}
		}
	}
	path, err := writeLocal(c, u, g, rs)
	if err != nil {
		return err
	}
	u.notef("%d of %d node parts in the dump", len(results)-len(failed), len(results))
	u.resultf("%s", path)
	if len(failed) > 0 {
		u.warnf("the dump is incomplete: no part from %d node(s): %s", len(failed), strings.Join(failed, "; "))
		return errIncomplete
	}
	return g.exit()
}

// errPartTooLarge stops the copy of a node part over --node-max-size.
var errPartTooLarge = errors.New("node part larger than --node-max-size")

// partFile receives a node's sealed part from the transport, refusing
// more than left bytes so that no node can fill this machine's disk.
type partFile struct {
	f    *os.File
	left int64
	over bool
}

func (p *partFile) Write(b []byte) (int, error) {
	if int64(len(b)) > p.left {
		p.over = true
		return 0, errPartTooLarge
	}
	p.left -= int64(len(b))
	return p.f.Write(b)
}

// openNodePart opens the part node r sent into dir and says why the node
// has no part when it cannot. Members that would leave dir are not
// extracted, and the user is told.
func openNodePart(c *cli.Context, u *ui, r fleet.Result, p *partFile, maxPart int64, id string, session age.Identity, dir string) error {
	defer os.Remove(p.f.Name())
	if err := p.f.Close(); err != nil && r.Err == nil {
		return fmt.Errorf("keep its part: %w", err)
	}
	switch {
	case p.over:
		return fmt.Errorf("its part is larger than --node-max-size %s: raise it, or use gather-upload --cluster (the parts go straight to a bucket)", sizeArg(maxPart))
	case r.Err != nil:
		return r.Err
	}
	res, err := decrypt.NodePart(c.Context, p.f.Name(), id, session, dir, decrypt.Options{})
	if err != nil {
		return fmt.Errorf("its part cannot be opened: %w", err)
	}
	if st := res.Stats; st.Skipped > 0 {
		u.warnf("node %s: %d member(s) of its part not extracted: %s", r.Node, st.Skipped, strings.Join(st.SkipSample, "; "))
	}
	return nil
}

// placeTree moves the node tree src to tree/rel. When that exists (this
// host's own gather wrote nodes/<its name>/ too), the node's entries join
// it, and the few the node shares with it keep this host's copy.
func placeTree(u *ui, src, tree, rel string) error {
	dst := filepath.Join(tree, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
		return os.Rename(src, dst)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, r := filepath.Join(src, e.Name()), filepath.Join(rel, e.Name())
		st, err := os.Lstat(filepath.Join(tree, r))
		switch {
		case errors.Is(err, os.ErrNotExist):
			err = os.Rename(s, filepath.Join(tree, r))
		case err == nil && st.IsDir() && e.IsDir():
			err = placeTree(u, s, tree, r)
		case err == nil:
			u.warnf("%s: this host's own gather wrote it too; the dump keeps this host's copy", r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
