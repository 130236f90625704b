package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/stores"
)

// listEntry is one line of dump list (and one object of --json).
type listEntry struct {
	UUID        string `json:"uuid"`
	Created     string `json:"created,omitempty"`
	Size        int64  `json:"size"`
	KeyIncluded bool   `json:"key_included"`
	ToolVersion string `json:"tool_version,omitempty"`
	Complete    bool   `json:"complete"`
	// A cluster dump's nodes, and how many of them uploaded a part.
	Nodes     int `json:"nodes,omitempty"`
	NodesGood int `json:"node_parts,omitempty"`
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "support: list the dumps in a store (oldest first)",
		Flags: append(outputFlags(),
			stringFlag("from", "where dumps are: "+stores.Forms(), defaultDestination),
			boolFlag("json", "print JSON"),
			storeTimeoutFlag(),
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			s, err := openStoreFlag(c, u, c.String("from"), "--from")
			if err != nil {
				return err
			}
			refs, err := upload.ListDumps(c.Context, s)
			if err != nil {
				return err
			}
			entries := make([]listEntry, 0, len(refs))
			for _, r := range refs {
				e := listEntry{UUID: r.UUID, Size: r.PayloadSize, KeyIncluded: r.KeyIncluded, Complete: r.Complete}
				if r.Complete {
					if info, err := upload.ReadInfo(c.Context, s, r.UUID); err != nil {
						u.warnf("%s: %s", layout.Quote(r.UUID), layout.Quote(err.Error()))
					} else {
						e.Created = info.Created.UTC().Format("2006-01-02T15:04:05Z")
						e.ToolVersion = info.ToolVersion
						e.Nodes = len(info.Nodes)
						for _, n := range info.Nodes {
							if n.Error == "" {
								e.NodesGood++
							}
						}
					}
				}
				entries = append(entries, e)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(u.out)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			if len(entries) == 0 {
				u.notef("no dumps in %s", s)
				return nil
			}
			tw := tabwriter.NewWriter(u.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UUID\tCREATED\tSIZE\tKEY\tVERSION\tNODES")
			for _, e := range entries {
				created, key := e.Created, "no (nometa)"
				if !e.Complete {
					created = "incomplete upload"
				}
				if e.KeyIncluded {
					key = "yes"
				}
				nodes := "-"
				if e.Nodes > 0 {
					nodes = fmt.Sprintf("%d of %d", e.NodesGood, e.Nodes)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", layout.Quote(e.UUID), created, human.Bytes(e.Size), key, layout.Quote(e.ToolVersion), nodes)
			}
			return tw.Flush()
		},
	}
}
