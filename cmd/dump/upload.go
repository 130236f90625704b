package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

func uploadCommand() *cli.Command {
	return &cli.Command{
		Name:      "upload",
		Usage:     "upload a dump sealed earlier (its .key.age and .json siblings are found by name)",
		ArgsUsage: "FILE.tar.zst.age",
		Flags:     append(outputFlags(), uploadFlags()...),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.NArg() != 1 {
				return usageErrorf("upload takes one sealed file: dump upload --to URL dump-<uuid>.tar.zst.age")
			}
			parts, info, err := sealedParts(c.Args().First())
			if err != nil {
				return err
			}
			dest, err := openDestination(c, u)
			if err != nil {
				return err
			}
			if dest.ticket != nil && dest.ticket.UUID != info.UUID {
				return usageErrorf("this ticket is for dump %s, not %s: ask support for a ticket for this dump, or upload with --to", dest.ticket.UUID, info.UUID)
			}
			if split, _ := splitSize(c); split > 0 {
				u.notef("splitting the payload into parts of at most %s", human.Bytes(split))
				if _, _, err := crypto.Split(c.Context, c.Args().First(), split); err != nil {
					return err
				}
				if parts, _, err = sealedParts(c.Args().First()); err != nil {
					return err
				}
			}
			if parts.KeyPath == "" {
				u.notef("no key file next to the dump: uploading without its key (support will need the key=... line you were shown)")
			}
			if err := uploadParts(c, u, dest, info.UUID, parts); err != nil {
				return fmt.Errorf("upload failed: %w (the local files are untouched; run the same command again)", err)
			}
			u.notef("uploaded; the local files in %s can be deleted", filepath.Dir(parts.PayloadPath))
			u.resultf("%s", info.UUID)
			return nil
		},
	}
}

// sealedParts finds the siblings of dump-<uuid>.tar.zst.age and reads its info.
func sealedParts(payload string) (upload.Parts, layout.Info, error) {
	files, info, err := layout.ReadLocal(payload)
	if errors.Is(err, fs.ErrNotExist) {
		return upload.Parts{}, info, usageErrorf("%v", err)
	}
	if err != nil {
		return upload.Parts{}, info, err
	}
	parts := upload.Parts{PayloadPath: files.Payload, KeyPath: files.Key, InfoPath: files.Info}
	if info.Split() {
		parts.PayloadParts = files.Payloads(&info)
	}
	return parts, info, nil
}
