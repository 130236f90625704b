package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
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
func sealedParts(payload string) (upload.Parts, crypto.Info, error) {
	base, ok := strings.CutSuffix(payload, crypto.PayloadSuffix)
	if !ok {
		return upload.Parts{}, crypto.Info{}, usageErrorf("%s is not a sealed dump (dump-<uuid>%s)", payload, crypto.PayloadSuffix)
	}
	parts := upload.Parts{PayloadPath: payload, KeyPath: base + crypto.KeySuffix, InfoPath: base + crypto.InfoSuffix}
	fi, err := os.Stat(payload)
	if err != nil {
		return parts, crypto.Info{}, usageErrorf("%v", err)
	}
	if _, err := os.Stat(parts.KeyPath); errors.Is(err, os.ErrNotExist) {
		parts.KeyPath = ""
	}
	f, err := os.Open(parts.InfoPath)
	if err != nil {
		return parts, crypto.Info{}, usageErrorf("%v (the .json next to the dump is needed)", err)
	}
	defer f.Close()
	info, err := crypto.ReadInfo(f)
	if err != nil {
		return parts, crypto.Info{}, fmt.Errorf("%s: %w", parts.InfoPath, err)
	}
	// Caught here, not by support after the upload: a cut or altered file.
	if fi.Size() != info.PayloadSize {
		return parts, crypto.Info{}, fmt.Errorf("%s is %d bytes but %s says %d: it was cut or altered; seal the dump again", payload, fi.Size(), parts.InfoPath, info.PayloadSize)
	}
	return parts, info, nil
}
