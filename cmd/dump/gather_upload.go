package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/human"
)

// showSummary is what the user sees before deciding to upload.
func showSummary(u *ui, g *gathered, sealed *crypto.Sealed, dest *destination, rs recipientsOf) {
	u.warnf("\nAbout to upload dump %s", g.uuid)
	u.warnf("  collected:   %s", strings.ReplaceAll(strings.TrimSpace(g.result.Summary()), "\n", "\n               "))
	u.warnf("  redactions:  %d secrets replaced (%s)", g.redactor.Totals().Total(), formatCounts(g.redactor.Totals()))
	u.warnf("  sealed size: %s (encrypted; nothing readable leaves this machine)", human.Bytes(sealed.Info.PayloadSize))
	u.warnf("  destination: %s", destName(dest))
	u.warnf("  recipients:  %s", strings.Join(rs.fingerprints, ", "))
	u.warnf("  local copy:  %s", sealed.PayloadPath)
}

// confirmUpload shows the summary and asks before uploading (declined: the
// user is told where the sealed dump is kept, and the error is the exit) and
// before including the key (declined: the key file is removed now, so a
// later `dump upload` retry cannot send it either).
func confirmUpload(u *ui, g *gathered, sealed *crypto.Sealed, dest *destination, rs recipientsOf, out string) (withKey bool, err error) {
	showSummary(u, g, sealed, dest, rs)
	ok, err := ask(u, "Upload?", false)
	if err != nil {
		return false, err
	}
	if !ok {
		u.warnf("not uploaded; the sealed dump is kept in %s; upload it later with:\n  %s", out, retryCommand(dest, sealed))
		u.resultf("%s", sealed.PayloadPath)
		return false, &exitError{code: exitFailed}
	}
	withKey, err = ask(u, "Include the encrypted key (support can open it without asking you)?", true)
	if err != nil || withKey {
		return withKey, err
	}
	if err := os.Remove(sealed.KeyPath); err != nil {
		return false, fmt.Errorf("remove the key file you chose not to upload: %w", err)
	}
	sealed.KeyPath = ""
	// info.json must say so: support is then told to ask for the key, not
	// that key.age went missing.
	sealed.Info.KeyIncluded = false
	return false, rewriteInfo(sealed)
}

type uploadMode int

const (
	modeConfirm uploadMode = iota // ask before upload and before including the key
	modeYes                       // no prompts, key included
	modeNoMeta                    // no prompts, key shown to the user instead of uploaded
)

func gatherUploadCommand(name string, mode uploadMode, usage string) *cli.Command {
	return &cli.Command{
		Name:   name,
		Usage:  usage,
		Flags:  append(gatherUploadFlags(), clusterFlags()...),
		Action: gatherUploadAction(mode),
	}
}

func gatherUploadAction(mode uploadMode) cli.ActionFunc {
	return func(c *cli.Context) error {
		u := newUI(c)
		if err := checkHostsFlags(c); err != nil {
			return err
		}
		if c.Bool("cluster") {
			if err := canAsk(c, mode); err != nil {
				return err
			}
			return gatherUploadCluster(c, u, mode)
		}
		// Everything that can be checked before gathering is, so a bad flag
		// does not cost the user a ten-minute gather.
		dest, err := openDestination(c, u)
		if err != nil {
			return err
		}
		if err := canAsk(c, mode); err != nil {
			return err
		}
		rs, err := recipients(c, mode != modeNoMeta)
		if err != nil {
			return err
		}
		id := ""
		if dest.ticket != nil {
			id = dest.ticket.UUID
		} else if id, err = newUUID(c); err != nil {
			return err
		}
		if err := c.Set("uuid", id); err != nil {
			return err
		}
		if err := checkDestination(c, u, dest, id); err != nil {
			return err
		}
		out := c.String("out")
		if err := os.MkdirAll(out, 0o700); err != nil {
			return fmt.Errorf("--out %s: %w", out, err)
		}

		g, err := runGather(c, u)
		if err != nil {
			return err
		}
		defer g.cleanup()
		// Without a question to ask first, the payload goes up while it is
		// sealed (as one object: not when --split cuts it in parts); the
		// sealed files are written all the same.
		var stream *payloadStream
		if (mode != modeConfirm || c.Bool("yes")) && c.String("split") == "" {
			stream = streamPayload(c, u, dest, g.uuid)
		}
		sealed, err := seal(c, u, g.tree, g.uuid, out, rs, mode != modeNoMeta, stream.tee())
		stream.finish(err)
		if err != nil {
			return fmt.Errorf("%w (nothing was uploaded)", err)
		}
		parts := sealedUpload(sealed)

		if mode == modeConfirm && !c.Bool("yes") {
			withKey, err := confirmUpload(u, g, sealed, dest, rs, out)
			if err != nil {
				return err
			}
			if !withKey {
				parts.KeyPath = ""
				mode = modeNoMeta
			}
		}
		if mode == modeNoMeta {
			// Shown before the upload, so it is not lost if the upload fails.
			u.warnf("the key is not uploaded: give support this line by another channel (it opens the dump; it is shown only now):")
			u.resultf("key=%s", sealed.SessionKey)
		}

		if err := uploadParts(c, u, dest, g.uuid, parts); err != nil {
			u.warnf("upload failed: %v", err)
			u.warnf("the sealed dump is kept in %s; retry with:\n  %s", out, retryCommand(dest, sealed))
			return &exitError{code: exitFailed}
		}
		removeParts(u, sealed)
		u.notef("uploaded to %s/%s", strings.TrimSuffix(destName(dest), "/"), g.uuid)
		u.resultf("%s", g.uuid)
		return g.exit()
	}
}

// canAsk refuses gather-upload-confirm without --yes when there is no
// terminal to ask on.
func canAsk(c *cli.Context, mode uploadMode) error {
	if mode == modeConfirm && !c.Bool("yes") && !stdinIsTerminal() {
		return usageErrorf("gather-upload-confirm asks before uploading and there is no terminal: pass --yes, or use gather-upload (key included) or gather-upload-nometa (key shown to you)")
	}
	return nil
}
