// Package stores opens an upload.Store from a URL: each kind of store is one
// entry of kinds below, and every message that lists the accepted forms is
// made from that list. The stores it returns retry temporary failures
// (package retry): callers never wrap them again.
//
//	s, err := stores.Open(ctx, "s3://acme-support/dumps", stores.Options{Write: true})
package stores

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/file"
	"github.com/dumptool/dump/upload/gs"
	"github.com/dumptool/dump/upload/retry"
	"github.com/dumptool/dump/upload/s3"
	"github.com/dumptool/dump/upload/ticket"
)

// Options say what the store is opened for.
type Options struct {
	// Write opens a destination: a file:// directory is made if missing
	// (its parent must exist). Without it nothing is created: a store that
	// does not exist is an error.
	Write bool
	// Create makes a missing file:// directory with all its parents.
	Create bool
	// Retry tunes the retries of temporary failures.
	Retry retry.Options
}

// kind is one kind of store.
type kind struct {
	scheme   string
	form     string // how a URL of this kind looks, for messages
	presigns bool   // can sign upload tickets
	open     func(ctx context.Context, u *url.URL, o Options) (upload.Store, error)
}

var kinds = []kind{
	{"file", "file:///dir", false, openFile},
	{"s3", "s3://bucket/prefix", true, func(ctx context.Context, u *url.URL, _ Options) (upload.Store, error) { return s3.Open(ctx, u) }},
	{"gs", "gs://bucket/prefix", true, func(ctx context.Context, u *url.URL, _ Options) (upload.Store, error) { return gs.Open(ctx, u) }},
}

// Forms lists the URLs Open accepts, for messages:
// "file:///dir, s3://bucket/prefix or gs://bucket/prefix".
func Forms() string { return list(func(kind) bool { return true }) }

// PresignForms lists the URLs of stores that can make upload tickets.
func PresignForms() string { return list(func(k kind) bool { return k.presigns }) }

func list(keep func(kind) bool) string {
	var forms []string
	for _, k := range kinds {
		if keep(k) {
			forms = append(forms, k.form)
		}
	}
	if len(forms) < 2 {
		return strings.Join(forms, "")
	}
	return strings.Join(forms[:len(forms)-1], ", ") + " or " + forms[len(forms)-1]
}

// Open returns the store a URL names, retrying temporary failures. A bare
// path is taken as a local directory.
func Open(ctx context.Context, raw string, o Options) (upload.Store, error) {
	s, err := open(ctx, raw, o)
	if err != nil {
		return nil, err
	}
	return retry.New(s, o.Retry), nil
}

func open(ctx context.Context, raw string, o Options) (upload.Store, error) {
	if !strings.Contains(raw, "://") {
		return openFile(ctx, &url.URL{Scheme: "file", Path: raw}, o)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL (%v): use %s", raw, err, Forms())
	}
	for _, k := range kinds {
		if k.scheme == u.Scheme {
			return k.open(ctx, u, o)
		}
	}
	return nil, fmt.Errorf("%q: unknown scheme %q: use %s", u.Redacted(), u.Scheme, Forms())
}

func openFile(_ context.Context, u *url.URL, o Options) (upload.Store, error) {
	p := u.Path
	if u.Host != "" && u.Host != "localhost" {
		// file://./demo/bucket: a relative path written as a URL.
		p = filepath.Join(u.Host, u.Path)
	}
	switch {
	case o.Create:
		return file.New(p)
	case o.Write:
		return file.Create(p)
	}
	return file.Open(p)
}

// Ticket returns the store of an upload ticket (which can only put the
// objects of its dump), retrying temporary failures. client sends the
// requests; if nil, one whose stalled connections fail in minutes, not at the
// end of the upload's deadline.
func Ticket(t *ticket.Ticket, client *http.Client, o Options) upload.Store {
	if client == nil {
		client = ticketClient
	}
	return retry.New(t.Store(client), o.Retry)
}

var ticketClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 2 * time.Minute,
}}
