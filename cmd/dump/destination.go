package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/human"
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
	if t := c.String("ticket"); t != "" {
		tk, err := ticket.Parse(t)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		return &destination{store: withRetry(tk.Store(ticketClient), u, c.Duration("upload-timeout")), ticket: tk, retry: "--ticket " + human.Quote(t)}, nil
	}
	to := c.String("to")
	if to == "" {
		return nil, usageErrorf("no destination: pass --to s3://bucket/prefix, gs://bucket/prefix or file:///dir, or --ticket from support (or set DUMP_TO)")
	}
	s, err := stores.Open(c.Context, to)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return &destination{store: withRetry(s, u, c.Duration("upload-timeout")), retry: "--to " + human.Quote(to)}, nil
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

// openStoreFlag opens the store of --from (list, decrypt), retrying each
// request for up to --store-timeout.
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
	return fmt.Sprintf("dump upload %s %s", dest.retry, human.Quote(sealed.PayloadPath))
}
