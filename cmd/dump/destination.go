package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/retry"
	"github.com/dumptool/dump/upload/stores"
	"github.com/dumptool/dump/upload/ticket"
)

// destination is where a dump goes: a store, or a ticket from support.
type destination struct {
	store  upload.Store
	ticket *ticket.Ticket
	retry  string // the --to or --ticket part of the retry command
}

func openDestination(c *cli.Context, u *ui) (*destination, error) {
	o := storeOptions(u, c.Duration("upload-timeout"))
	if t := c.String("ticket"); t != "" {
		if c.String("split") != "" {
			return nil, usageErrorf("--split cannot go through --ticket: a ticket signs one payload object; upload whole, or ask support for a destination")
		}
		tk, err := ticket.Parse(t)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		return &destination{store: stores.Ticket(tk, nil, o), ticket: tk, retry: "--ticket " + human.Quote(t)}, nil
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
	return &destination{store: s, retry: "--to " + human.Quote(to)}, nil
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

// openStoreFlag opens the store of --from (list, decrypt), retrying each
// request for up to --store-timeout. It creates nothing.
func openStoreFlag(c *cli.Context, u *ui, raw, flag string) (upload.Store, error) {
	if raw == "" {
		return nil, usageErrorf("no store: pass %s %s (or set DUMP_%s)", flag, stores.Forms(), strings.ToUpper(strings.TrimPrefix(flag, "--")))
	}
	s, err := stores.Open(c.Context, raw, storeOptions(u, c.Duration("store-timeout")))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return s, nil
}

// payloadStream uploads the payload while it is sealed, when the store can
// take a stream (file, s3, gs; not a ticket, whose signed request needs the
// size first). The upload that follows the seal then finds the payload
// stored, or, if the stream failed, sends it from the sealed file (S3
// continues the stream's multipart upload).
type payloadStream struct {
	u    *ui
	pw   *io.PipeWriter
	done chan error
	// failed is set once the upload stopped reading: the seal's writes
	// then go to the sealed file alone.
	failed bool
}

func streamPayload(c *cli.Context, u *ui, dest *destination, id string) *payloadStream {
	st := upload.StreamerOf(dest.store)
	if st == nil {
		return nil
	}
	pr, pw := io.Pipe()
	p := &payloadStream{u: u, pw: pw, done: make(chan error, 1)}
	u.notef("uploading to %s while sealing", destName(dest))
	go func() {
		ctx, cancel := context.WithTimeout(c.Context, c.Duration("upload-timeout"))
		defer cancel()
		err := st.PutStream(ctx, layout.Object(id, layout.PayloadObject), pr)
		pr.CloseWithError(errors.New("upload stopped"))
		p.done <- err
	}()
	return p
}

// tee is what the seal writes the payload to besides its file.
func (p *payloadStream) tee() io.Writer {
	if p == nil {
		return nil
	}
	return p
}

// Write never fails: a failed upload must not stop the seal.
func (p *payloadStream) Write(b []byte) (int, error) {
	if !p.failed {
		if _, err := p.pw.Write(b); err != nil {
			p.failed = true
		}
	}
	return len(b), nil
}

// finish ends the stream with the seal's outcome (a failed seal uploads
// nothing) and waits for the upload.
func (p *payloadStream) finish(sealErr error) {
	if p == nil {
		return
	}
	p.pw.CloseWithError(sealErr)
	if err := <-p.done; err != nil && sealErr == nil {
		p.u.notef("uploading while sealing stopped (%v); uploading from the sealed file", err)
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
	for _, p := range slices.Concat(sealed.PayloadParts, []string{sealed.KeyPath, sealed.InfoPath}) {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			u.warnf("could not remove %s after the upload: %v", p, err)
		}
	}
}

func retryCommand(dest *destination, sealed *crypto.Sealed) string {
	return fmt.Sprintf("dump upload %s %s", dest.retry, human.Quote(sealed.PayloadPath))
}
