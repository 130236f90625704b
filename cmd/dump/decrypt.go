package main

import (
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/decrypt"
	"github.com/dumptool/dump/internal/human"
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
			stringFlag("max-bytes", "refuse to extract more than this", human.Bytes(decrypt.DefaultMaxBytes)),
			&cli.IntFlag{Name: "max-files", Usage: "refuse to extract more files than this", Value: decrypt.DefaultMaxFiles, EnvVars: env("max-files")},
			&cli.IntFlag{Name: "download-concurrency", Usage: "parallel ranged downloads", Value: decrypt.DefaultConcurrency, EnvVars: env("download-concurrency")},
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
	u.notef("extracted %d files (%s) of dump %s; start with %s/index.html", res.Stats.Files, human.Bytes(res.Stats.Bytes), res.UUID, res.Dir)
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
