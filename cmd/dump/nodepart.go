package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/stores"
	"github.com/dumptool/dump/upload/ticket"
)

// nodeUploadTimeout bounds the retries of each request of a node part's
// upload; the pod's own deadline bounds the whole.
const nodeUploadTimeout = 5 * time.Minute

// gatherNodePart is what a cluster dump runs on each node: gather, seal to
// the session recipient R alone (the node never holds a key that opens
// anything), and either upload through the node's write-only ticket
// (`dump gather --ticket T --recipient R`) or, in an offline cluster dump,
// write the sealed part to stdout for the transport to carry back
// (`dump gather --stdout --uuid U --recipient R`), stdout holding nothing
// else.
func gatherNodePart(c *cli.Context, u *ui) error {
	var tk *ticket.Ticket
	if c.Bool("stdout") {
		if c.String("ticket") != "" {
			return usageErrorf("--stdout and --ticket exclude each other: a node part goes to its ticket or to stdout")
		}
		if c.String("uuid") == "" {
			return usageErrorf("--stdout writes a node part of a cluster dump: pass that dump's --uuid")
		}
	} else {
		var err error
		if tk, err = ticket.Parse(c.String("ticket")); err != nil {
			return usageErrorf("--ticket: %v", err)
		}
		if tk.Node == "" {
			return usageErrorf("--ticket: this ticket is for a whole dump, not a node part: use dump gather-upload --ticket")
		}
	}
	lines := c.StringSlice("recipient")
	if len(lines) != 1 {
		return usageErrorf("a node part is sealed to its cluster dump's session recipient: pass exactly one --recipient")
	}
	to, _, err := crypto.ParseRecipient(lines[0])
	if err != nil {
		return usageErrorf("--recipient: %v", err)
	}
	if tk != nil {
		if err := c.Set("uuid", tk.UUID); err != nil {
			return err
		}
	}
	g, err := runGather(c, u)
	if err != nil {
		return err
	}
	defer g.cleanup()
	out := filepath.Join(g.work, "sealed")
	if err := os.Mkdir(out, 0o700); err != nil {
		return fmt.Errorf("node part: %w", err)
	}
	sealed, err := crypto.Seal(c.Context, g.tree, crypto.SealOptions{
		UUID: g.uuid, SessionRecipient: to, OutDir: out, ToolVersion: version,
	})
	if err != nil {
		return err
	}
	if tk == nil {
		u.notef("sealed node part: %s; writing it to stdout", human.Bytes(sealed.Info.PayloadSize))
		return copyToStdout(u, sealed.PayloadPath)
	}
	u.notef("sealed node part %s: %s; uploading", tk.Node, human.Bytes(sealed.Info.PayloadSize))
	store := stores.Ticket(tk, nil, storeOptions(u, nodeUploadTimeout))
	if err := upload.PutNodePart(c.Context, store, tk.UUID, tk.Node, sealed.PayloadPath, sealed.InfoPath, nil); err != nil {
		return fmt.Errorf("upload failed: %w", err)
	}
	u.resultf("%s", layout.Object(tk.UUID, layout.NodePayloadObject(tk.Node)))
	// The node's own report says what failed on it; the initiator reports
	// only parts that did not arrive.
	return nil
}

func copyToStdout(u *ui, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("node part: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(u.out, f); err != nil {
		return fmt.Errorf("write the node part to stdout: %w", err)
	}
	return nil
}
