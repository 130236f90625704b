package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/layout"
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
	if t := c.String("ticket"); t != "" {
		tk, err := ticket.Parse(t)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		return &destination{store: withRetry(tk.Store(ticketClient), u, c.Duration("upload-timeout")), ticket: tk, retry: "--ticket " + shellQuote(t)}, nil
	}
	to := c.String("to")
	if to == "" {
		return nil, usageErrorf("no destination: pass --to s3://bucket/prefix, gs://bucket/prefix or file:///dir, or --ticket from support (or set DUMP_TO)")
	}
	s, err := stores.Open(c.Context, to)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return &destination{store: withRetry(s, u, c.Duration("upload-timeout")), retry: "--to " + shellQuote(to)}, nil
}

// ticketClient sends presigned uploads: a stalled endpoint fails in minutes,
// not at the end of --upload-timeout.
var ticketClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 2 * time.Minute,
}}

// withRetry retries a store's transient failures for up to maxElapsed per request.
func withRetry(s upload.Store, u *ui, maxElapsed time.Duration) upload.Store {
	return retry.New(s, retry.Options{
		MaxElapsed: maxElapsed,
		Notify: func(op string, err error, wait time.Duration) {
			u.notef("%s: retrying in %s: %v", op, wait.Round(100*time.Millisecond), err)
		},
	})
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
		if dest.ticket != nil {
			if err := c.Set("uuid", dest.ticket.UUID); err != nil {
				return err
			}
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
	if err := upload.PutDump(ctx, dest.store, id, parts, u.bytes("upload")); err != nil {
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
func sealedParts(payload string) (upload.Parts, layout.Info, error) {
	files, info, err := layout.ReadLocal(payload)
	if errors.Is(err, fs.ErrNotExist) {
		return upload.Parts{}, info, usageErrorf("%v", err)
	}
	if err != nil {
		return upload.Parts{}, info, err
	}
	return upload.Parts{PayloadPath: files.Payload, KeyPath: files.Key, InfoPath: files.Info}, info, nil
}

func ticketCommand() *cli.Command {
	return &cli.Command{
		Name:  "ticket",
		Usage: "support: make an upload ticket so a customer can upload without credentials",
		Flags: append(outputFlags(),
			stringFlag("to", "where the dump will go: s3://bucket/prefix or gs://bucket/prefix", defaultDestination),
			durationFlag("expires", "how long the ticket works", 72*time.Hour),
			uuidFlag(),
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			to := c.String("to")
			if to == "" {
				return usageErrorf("no destination: pass --to s3://bucket/prefix or gs://bucket/prefix")
			}
			s, err := stores.Open(c.Context, to)
			if err != nil {
				return usageErrorf("%v", err)
			}
			p, ok := s.(upload.Presigner)
			if !ok {
				return usageErrorf("%s cannot sign upload URLs: tickets need s3:// or gs://", s)
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
