package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// seal packs and encrypts tree into out as the three parts of docs/design.md;
// tee, if not nil, also receives the payload as it is written.
func seal(c *cli.Context, u *ui, tree, id, out string, rs recipientsOf, includeKey bool, tee io.Writer) (*crypto.Sealed, error) {
	split, err := splitSize(c)
	if err != nil {
		return nil, err
	}
	u.notef("sealing for %d recipient(s)", len(rs.list))
	sealed, err := crypto.Seal(c.Context, tree, crypto.SealOptions{
		UUID:        id,
		Recipients:  rs.list,
		IncludeKey:  includeKey,
		OutDir:      out,
		ToolVersion: version,
		Tee:         tee,
		Split:       split,
	})
	if err != nil {
		return nil, err // crypto's errors say "seal: ..."
	}
	u.notef("sealed %d files, %s -> %s", sealed.Info.Files, human.Bytes(sealed.Info.ContentBytes), human.Bytes(sealed.Info.PayloadSize))
	if sealed.Info.Split() {
		u.notef("in %d parts of at most %s: %s ... (stock tools read them with cat %s.* | age -d ...)", sealed.Info.Parts, human.Bytes(split), filepath.Base(sealed.PayloadPath), filepath.Base(strings.TrimSuffix(sealed.PayloadPath, layout.PartSuffix(1))))
	}
	return sealed, nil
}

// sealedUpload is what an upload of a freshly sealed dump puts.
func sealedUpload(s *crypto.Sealed) upload.Parts {
	p := upload.Parts{PayloadPath: s.PayloadPath, KeyPath: s.KeyPath, InfoPath: s.InfoPath}
	if s.Info.Split() {
		p.PayloadParts = s.PayloadParts
	}
	return p
}

// rewriteInfo writes sealed.Info again after a change made since sealing.
func rewriteInfo(sealed *crypto.Sealed) error {
	info, err := sealed.Info.Marshal()
	if err == nil {
		err = renameio.WriteFile(sealed.InfoPath, info, 0o600)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", sealed.InfoPath, err)
	}
	return nil
}

func sealCommand() *cli.Command {
	flags := append(outputFlags(), recipientFlags()...)
	flags = append(flags,
		stringFlag("out", "directory for the sealed files", "."),
		uuidFlag(),
		niceFlag(),
		splitFlag(),
	)
	return &cli.Command{
		Name:      "seal",
		Usage:     "pack and seal an existing directory for support, as gather --encrypt does (run dump redact on it first if it may hold secrets)",
		ArgsUsage: "DIR",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.NArg() != 1 {
				return usageErrorf("seal takes one directory: dump seal DIR --recipient age1...")
			}
			dir := c.Args().First()
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return usageErrorf("%s is not a directory", dir)
			}
			rs, err := recipients(c, true)
			if err != nil {
				return err
			}
			id, err := newUUID(c)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(c.String("out"), 0o700); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			sealed, err := seal(c, u, dir, id, c.String("out"), rs, true, nil)
			if err != nil {
				return err
			}
			u.resultf("%s", sealed.PayloadPath)
			return nil
		},
	}
}
