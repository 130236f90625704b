package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/decrypt"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/stores"
)

func decryptCommand() *cli.Command {
	return &cli.Command{
		Name:      "decrypt",
		Usage:     "support: fetch a dump by uuid, prefix or glob (or open a local file), and extract it to --out DIR/<uuid>/",
		ArgsUsage: "UUID|PREFIX|GLOB",
		Flags: append(append(outputFlags(), identityFlags()...),
			stringFlag("from", "where dumps are: file:///dir, s3://bucket/prefix or gs://bucket/prefix", defaultDestination),
			stringFlag("file", "a local sealed dump (dump-<uuid>.tar.zst.age) instead of a store", ""),
			stringFlag("out", "extract under this directory", "."),
			boolFlag("all", "open every dump that matches"),
			stringFlag("max-bytes", "refuse to extract more than this", "16GiB"),
			&cli.IntFlag{Name: "max-files", Usage: "refuse to extract more files than this", Value: layout.MaxFiles, EnvVars: env("max-files")},
			&cli.IntFlag{Name: "download-concurrency", Usage: "parallel ranged downloads", Value: 4, EnvVars: env("download-concurrency")},
			storeTimeoutFlag(),
		),
		Action: decryptAction,
	}
}

func decryptAction(c *cli.Context) error {
	u := newUI(c)
	opts, err := decryptOptions(c, u)
	if err != nil {
		return err
	}
	if f := c.String("file"); f != "" {
		if c.NArg() > 0 {
			return usageErrorf("give either --file or a uuid with --from, not both")
		}
		res, err := decrypt.FromFile(c.Context, f, opts)
		if err != nil {
			return err
		}
		reportExtracted(u, res)
		return nil
	}
	if c.NArg() != 1 {
		return usageErrorf("decrypt needs one uuid, prefix or glob: dump decrypt --from URL 3f2a")
	}
	from := c.String("from")
	dest, err := openStoreFlag(c, u, from, "--from")
	if err != nil {
		return err
	}
	refs, err := decrypt.Find(c.Context, dest, c.Args().First())
	if err != nil {
		return err
	}
	if len(refs) > 1 && !c.Bool("all") {
		for i, r := range refs {
			u.warnf("  %d) %s  %s", i+1, r.UUID, r.Modified.Format("2006-01-02 15:04:05Z"))
		}
		if !stdinIsTerminal() {
			return usageErrorf("%d dumps match %q: give more of the uuid, or --all to open them all", len(refs), c.Args().First())
		}
		n, err := choose(u, len(refs))
		if err != nil {
			return err
		}
		refs = refs[n-1 : n]
	}
	for _, r := range refs {
		res, err := decrypt.FromStore(c.Context, dest, r.UUID, opts)
		if err != nil {
			return err
		}
		reportExtracted(u, res)
	}
	return nil
}

func reportExtracted(u *ui, res *decrypt.Result) {
	u.notef("extracted %d files (%s) of dump %s; start with %s/index.html", res.Stats.Files, humanBytes(res.Stats.Bytes), res.UUID, res.Dir)
	for _, s := range res.Stats.Skipped {
		u.warnf("skipped unsafe member: %s", s)
	}
	u.resultf("%s", res.Dir)
}

func decryptOptions(c *cli.Context, u *ui) (decrypt.Options, error) {
	ids, err := identities(c)
	if err != nil {
		return decrypt.Options{}, err
	}
	var session *age.X25519Identity
	if k := c.String("key"); k != "" {
		if session, err = crypto.ParseSessionKey(strings.TrimPrefix(strings.TrimSpace(k), "key=")); err != nil {
			return decrypt.Options{}, usageErrorf("--key: %v", err)
		}
	}
	if len(ids) == 0 && session == nil {
		return decrypt.Options{}, usageErrorf("nothing to open the dump with: pass --identity support.key (or --key AGE-SECRET-KEY-1... for a dump uploaded without its key)")
	}
	maxBytes, err := sizeFlag(c, "max-bytes")
	if err != nil {
		return decrypt.Options{}, err
	}
	return decrypt.Options{
		Identities:  ids,
		SessionKey:  session,
		OutDir:      c.String("out"),
		Limits:      decrypt.Limits{MaxBytes: maxBytes, MaxFiles: c.Int("max-files")},
		Concurrency: c.Int("download-concurrency"),
		Wrap:        u.bytes("download"),
	}, nil
}

func openStoreFlag(c *cli.Context, u *ui, raw, flag string) (upload.Store, error) {
	if raw == "" {
		return nil, usageErrorf("no store: pass %s s3://bucket/prefix, gs://bucket/prefix or file:///dir (or set DUMP_%s)", flag, strings.ToUpper(strings.TrimPrefix(flag, "--")))
	}
	s, err := stores.Open(c.Context, raw)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return withRetry(s, u, c.Duration("store-timeout")), nil
}

// listEntry is one line of dump list (and one object of --json).
type listEntry struct {
	UUID        string `json:"uuid"`
	Created     string `json:"created,omitempty"`
	Size        int64  `json:"size"`
	KeyIncluded bool   `json:"key_included"`
	ToolVersion string `json:"tool_version,omitempty"`
	Complete    bool   `json:"complete"`
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "support: list the dumps in a store (oldest first)",
		Flags: append(outputFlags(),
			stringFlag("from", "where dumps are: file:///dir, s3://bucket/prefix or gs://bucket/prefix", defaultDestination),
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
						u.warnf("%s: %v", r.UUID, err)
					} else {
						e.Created = info.Created.UTC().Format("2006-01-02T15:04:05Z")
						e.ToolVersion = info.ToolVersion
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
			fmt.Fprintln(tw, "UUID\tCREATED\tSIZE\tKEY\tVERSION")
			for _, e := range entries {
				created, key := e.Created, "no (nometa)"
				if !e.Complete {
					created = "incomplete upload"
				}
				if e.KeyIncluded {
					key = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.UUID, created, humanBytes(e.Size), key, e.ToolVersion)
			}
			return tw.Flush()
		},
	}
}
