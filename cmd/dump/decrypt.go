package main

import (
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/decrypt"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload/stores"
)

func decryptCommand() *cli.Command {
	return &cli.Command{
		Name:      "decrypt",
		Usage:     "support: fetch a dump by uuid, prefix or glob (or open a local file), and extract it to --out DIR/<uuid>/",
		ArgsUsage: "UUID|PREFIX|GLOB",
		Flags: append(append(outputFlags(), identityFlags()...),
			stringFlag("from", "where dumps are: "+stores.Forms(), defaultDestination),
			stringFlag("file", "a local sealed dump (dump-<uuid>.tar.zst.age) instead of a store", ""),
			stringFlag("out", "extract under this directory", "."),
			boolFlag("all", "open every dump that matches"),
			stringFlag("node", "of a cluster dump, open only this node's part (into <uuid>/nodes/NAME)", ""),
			maxBytesFlag(), maxFilesFlag(),
			countFlag("download-concurrency", "parallel ranged downloads", decrypt.DefaultConcurrency),
			storeTimeoutFlag(),
		),
		Action: decryptAction,
	}
}

func decryptAction(c *cli.Context) error {
	u := newUI(c)
	file := c.String("file")
	switch {
	case file != "" && c.NArg() > 0:
		return usageErrorf("give either --file or a uuid with --from, not both")
	case file != "" && c.String("node") != "":
		return usageErrorf("--node works with --from: a cluster dump's node parts are in its bucket")
	case file == "" && (c.NArg() != 1 || strings.TrimSpace(c.Args().First()) == ""):
		return usageErrorf("decrypt needs one uuid, prefix or glob: dump decrypt --from URL 3f2a (dump list --from URL shows them)")
	}
	opts, err := decryptOptions(c, u)
	if err != nil {
		return err
	}
	if f := file; f != "" {
		res, err := decrypt.FromFile(c.Context, f, opts)
		if err != nil {
			return err
		}
		reportExtracted(u, res)
		return nil
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
			u.warnf("  %d) %s  %s", i+1, layout.Quote(r.UUID), r.Modified.Format("2006-01-02 15:04:05Z"))
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
	// With --all, one dump that cannot be opened does not stop the others;
	// the failures are named at the end.
	var failed []string
	for _, r := range refs {
		res, err := decrypt.FromStore(c.Context, dest, r.UUID, opts)
		switch {
		case err == nil && len(res.NodeErrors) > 0:
			for _, e := range res.NodeErrors {
				u.warnf("%v", e)
			}
			reportExtracted(u, res)
			return fmt.Errorf("%d node part(s) of dump %s could not be opened (above); the rest is extracted in %s", len(res.NodeErrors), r.UUID, res.Dir)
		case err == nil:
			reportExtracted(u, res)
			continue
		case len(refs) == 1 || c.Context.Err() != nil:
			return err
		}
		u.warnf("%s: %v", r.UUID, err)
		failed = append(failed, r.UUID)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d dumps could not be opened (%s); the others were extracted", len(failed), len(refs), strings.Join(failed, ", "))
	}
	return nil
}

func reportExtracted(u *ui, res *decrypt.Result) {
	u.notef("extracted %d files (%s) of dump %s; start with %s/index.html", res.Stats.Files, human.Bytes(res.Stats.Bytes), res.UUID, res.Dir)
	for _, s := range res.Stats.SkipSample {
		u.warnf("skipped unsafe member: %s", s)
	}
	if more := res.Stats.Skipped - len(res.Stats.SkipSample); more > 0 {
		u.warnf("skipped %d more unsafe members", more)
	}
	if res.Stats.Renamed > 0 {
		u.warnf("%d file names held control characters; they are written with those escaped (ESC as %%1B)", res.Stats.Renamed)
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
		Wrap:        u.downloadProgress(),
		Node:        c.String("node"),
	}, nil
}
