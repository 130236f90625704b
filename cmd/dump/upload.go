package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/retry"
	"github.com/dumptool/dump/upload/stores"
	"github.com/dumptool/dump/upload/ticket"
)

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
		Flags:  gatherUploadFlags(),
		Action: gatherUploadAction(mode),
	}
}

// destination is where a dump goes: a store, or a ticket from support.
type destination struct {
	store  upload.Store
	ticket *ticket.Ticket
	retry  string // the --to or --ticket part of the retry command
}

func openDestination(c *cli.Context, u *ui) (*destination, error) {
	o := storeOptions(u, c.Duration("upload-timeout"))
	if t := c.String("ticket"); t != "" {
		tk, err := ticket.Parse(t)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		return &destination{store: stores.Ticket(tk, nil, o), ticket: tk, retry: "--ticket " + shellQuote(t)}, nil
	}
	to := c.String("to")
	if to == "" {
		return nil, usageErrorf("no destination: pass --to %s, or --ticket from support (or set DUMP_TO)", stores.Forms())
	}
	o.Write, o.Create = true, c.Bool("create")
	s, err := stores.Open(c.Context, to, o)
	if errors.Is(err, upload.ErrNotExist) && !o.Create {
		return nil, usageErrorf("%v: create it, or pass --create", err)
	}
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return &destination{store: s, retry: "--to " + shellQuote(to)}, nil
}

// checkDestination tries the destination before a long gather, so a wrong
// URL, refused credentials or a missing bucket cost seconds.
func checkDestination(c *cli.Context, u *ui, dest *destination, id string) error {
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	u.notef("checking the destination before gathering")
	return upload.CheckDestination(ctx, dest.store, id)
}

// storeOptions retry a store's temporary failures for up to maxElapsed per
// request, telling the user about each.
func storeOptions(u *ui, maxElapsed time.Duration) stores.Options {
	return stores.Options{Retry: retry.Options{
		MaxElapsed: maxElapsed,
		Notify: func(op string, err error, wait time.Duration) {
			u.notef("%s: retrying in %s: %v", op, wait.Round(100*time.Millisecond), err)
		},
	}}
}

func gatherUploadAction(mode uploadMode) cli.ActionFunc {
	return func(c *cli.Context) error {
		u := newUI(c)
		// Everything that can be checked before gathering is, so a bad flag
		// does not cost the user a ten-minute gather.
		dest, err := openDestination(c, u)
		if err != nil {
			return err
		}
		if mode == modeConfirm && !c.Bool("yes") && !stdinIsTerminal() {
			return usageErrorf("gather-upload-confirm asks before uploading and there is no terminal: pass --yes, or use gather-upload (key included) or gather-upload-nometa (key shown to you)")
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
		sealed, err := seal(c, u, g.tree, g.uuid, out, rs, mode != modeNoMeta)
		if err != nil {
			return err
		}
		parts := upload.Parts{PayloadPath: sealed.PayloadPath, KeyPath: sealed.KeyPath, InfoPath: sealed.InfoPath}

		if mode == modeConfirm && !c.Bool("yes") {
			showSummary(u, g, sealed, dest, rs)
			ok, err := ask(u, "Upload?", false)
			if err != nil {
				return err
			}
			if !ok {
				u.warnf("not uploaded; the sealed dump is kept in %s; upload it later with:\n  %s", out, retryCommand(dest, sealed))
				u.resultf("%s", sealed.PayloadPath)
				return &exitError{code: exitFailed}
			}
			withKey, err := ask(u, "Include the encrypted key (support can open it without asking you)?", true)
			if err != nil {
				return err
			}
			if !withKey {
				// Removed now, so a later `dump upload` retry cannot send it either.
				if err := os.Remove(sealed.KeyPath); err != nil {
					return fmt.Errorf("remove the key file you chose not to upload: %w", err)
				}
				parts.KeyPath, sealed.KeyPath = "", ""
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

func destName(d *destination) string {
	if d.ticket != nil {
		return d.ticket.Dest
	}
	return d.store.String()
}

// uploadParts puts a dump under --upload-timeout, retries included.
func uploadParts(c *cli.Context, u *ui, dest *destination, id string, parts upload.Parts) error {
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("upload-timeout"))
	defer cancel()
	u.notef("uploading to %s", destName(dest))
	if err := upload.PutDump(ctx, dest.store, id, parts, u.uploadProgress()); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (--upload-timeout %s; raise it for a slow link)", err, c.Duration("upload-timeout"))
		}
		return err
	}
	return nil
}

// removeParts deletes the local sealed files once the store has every object.
func removeParts(u *ui, sealed *crypto.Sealed) {
	for _, p := range []string{sealed.PayloadPath, sealed.KeyPath, sealed.InfoPath} {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			u.warnf("could not remove %s after the upload: %v", p, err)
		}
	}
}

func retryCommand(dest *destination, sealed *crypto.Sealed) string {
	return fmt.Sprintf("dump upload %s %s", dest.retry, shellQuote(sealed.PayloadPath))
}

// shellQuote makes s one word for a POSIX shell, so the retry command can be
// pasted as printed even when --out holds a space.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

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

func ticketCommand() *cli.Command {
	return &cli.Command{
		Name:  "ticket",
		Usage: "support: make an upload ticket so a customer can upload without credentials",
		Flags: append(outputFlags(),
			stringFlag("to", "where the dump will go: "+stores.PresignForms(), defaultDestination),
			durationFlag("expires", "how long the ticket works", 72*time.Hour),
			storeTimeoutFlag(),
			uuidFlag(),
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			to := c.String("to")
			if to == "" {
				return usageErrorf("no destination: pass --to %s", stores.PresignForms())
			}
			s, err := stores.Open(c.Context, to, storeOptions(u, c.Duration("store-timeout")))
			if err != nil {
				return usageErrorf("%v", err)
			}
			p, ok := s.(upload.Presigner)
			if !ok {
				return usageErrorf("%s cannot sign upload URLs: tickets need %s", s, stores.PresignForms())
			}
			id, err := newUUID(c)
			if err != nil {
				return err
			}
			t, err := ticket.Create(c.Context, p, to, id, c.Duration("expires"))
			if err != nil {
				return err
			}
			u.notef("ticket for dump %s, valid %s; the customer runs:\n  dump gather-upload --ticket '<ticket below>'", id, c.Duration("expires"))
			u.resultf("%s", t)
			return nil
		},
	}
}
