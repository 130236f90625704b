// Package ticket makes and reads upload tickets: one opaque string that lets
// a customer upload a dump with no cloud credentials and no world-writable
// bucket.
//
// Support runs Create against a store that can presign (S3, GCS); the ticket
// holds signed PUT requests for the three objects of one dump uuid, each
// refusing to replace an existing object. The customer passes the string to
// Parse and uploads through Ticket.Store with a plain HTTP client:
//
//	t, err := ticket.Parse(s)
//	...
//	err = upload.PutDump(ctx, t.Store(http.DefaultClient), t.UUID, parts, nil)
//
// The string is "dumpticket1." followed by the base64url of zlib-compressed
// JSON: the zlib checksum catches a ticket damaged while being copied, and
// the signatures in the URLs stop anyone from changing what it allows.
package ticket

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

const (
	scheme  = "dumpticket"
	version = 1
	prefix  = "dumpticket1."
	// maxJSON bounds what Parse inflates: a real ticket is a few KiB.
	maxJSON = 1 << 20
)

var (
	// ErrNotTicket is returned (wrapped) by Parse for a string that is not
	// an upload ticket at all.
	ErrNotTicket = errors.New("not an upload ticket")
	// ErrCorrupt is returned (wrapped) by Parse for a damaged ticket.
	ErrCorrupt = errors.New("corrupt upload ticket")
	// ErrExpired is returned (wrapped) once a ticket's URLs have expired.
	ErrExpired = errors.New("upload ticket expired")
	// ErrUploadOnly is returned (wrapped) by a ticket store's Get and List.
	// It is an upload.ErrPermission.
	ErrUploadOnly = fmt.Errorf("an upload ticket can only upload: %w", upload.ErrPermission)
)

// Ticket is a parsed upload ticket.
type Ticket struct {
	UUID    string
	Node    string // set for a node part of a cluster dump: see CreateNode
	Dest    string // where support said the dump goes, for messages only
	Expires time.Time
	// Puts are the signed requests, by object name within the dump
	// (layout.PayloadObject, layout.KeyObject, layout.InfoObject, or the
	// node part's layout.NodePayloadObject and layout.NodeInfoObject).
	Puts map[string]upload.PresignedPut
}

// wire is the JSON inside the ticket string.
type wire struct {
	V       int                            `json:"v"`
	UUID    string                         `json:"uuid"`
	Node    string                         `json:"node,omitempty"`
	Dest    string                         `json:"dest,omitempty"`
	Expires string                         `json:"expires"` // RFC 3339
	Puts    map[string]upload.PresignedPut `json:"puts"`
}

// Create presigns the puts of one dump uuid in p for expires and returns the
// ticket string. dest names the destination in messages (no secrets: any
// password in it is masked).
func Create(ctx context.Context, p upload.Presigner, dest string, uuid string, expires time.Duration) (string, error) {
	return create(ctx, p, dest, uuid, "", expires)
}

// CreateNode makes the ticket of one node of a cluster dump: it puts only
// <uuid>/nodes/<node>.tar.zst.age and <uuid>/nodes/<node>.json, so a node
// cannot touch the cluster part, the key or another node's part.
func CreateNode(ctx context.Context, p upload.Presigner, dest, uuid, node string, expires time.Duration) (string, error) {
	if err := layout.CheckNodeName(node); err != nil {
		return "", fmt.Errorf("create upload ticket: %w", err)
	}
	return create(ctx, p, dest, uuid, node, expires)
}

// objectsOf are the objects a ticket for node ("" for a whole dump) puts,
// the payload and the info first.
func objectsOf(node string) []string {
	if node == "" {
		return []string{layout.PayloadObject, layout.InfoObject, layout.KeyObject}
	}
	return []string{layout.NodePayloadObject(node), layout.NodeInfoObject(node)}
}

func create(ctx context.Context, p upload.Presigner, dest, uuid, node string, expires time.Duration) (string, error) {
	if uuid == "" || strings.ContainsAny(uuid, "/ \t\r\n") {
		return "", fmt.Errorf("create upload ticket: invalid uuid %q", uuid)
	}
	if expires <= 0 {
		return "", fmt.Errorf("create upload ticket: expiry must be positive, not %s", expires)
	}
	if u, err := url.Parse(dest); err == nil {
		dest = u.Redacted()
	}
	// Taken before signing, so the ticket never claims more time than its
	// URLs have.
	exp := time.Now().Truncate(time.Second).Add(expires)
	w := wire{V: version, UUID: uuid, Node: node, Dest: dest, Expires: exp.UTC().Format(time.RFC3339), Puts: map[string]upload.PresignedPut{}}
	for _, n := range objectsOf(node) {
		put, err := p.PresignPut(ctx, uuid+"/"+n, expires)
		if err != nil {
			return "", fmt.Errorf("create upload ticket: %w", err)
		}
		w.Puts[n] = put
	}
	return encode(w)
}

func encode(w wire) (string, error) {
	js, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("create upload ticket: %w", err)
	}
	var buf bytes.Buffer
	zw := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(zw)
	zw.Reset(&buf)
	zw.Write(js) // writes to a bytes.Buffer cannot fail
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("create upload ticket: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// zlibWriters are reused: a compressor at BestCompression allocates about
// 800 KB, and a cluster dump makes one ticket per node.
var zlibWriters = sync.Pool{New: func() any {
	zw, _ := zlib.NewWriterLevel(nil, zlib.BestCompression) // the level is valid
	return zw
}}

// Parse reads a ticket string. Whitespace anywhere is ignored, so a ticket
// wrapped by a mail program still works. An expired ticket is an error
// (ErrExpired).
func Parse(s string) (*Ticket, error) {
	s = strings.Join(strings.Fields(s), "")
	if !strings.HasPrefix(s, scheme) {
		return nil, &upload.Error{Msg: "this is not an upload ticket (a ticket starts with " + prefix + ")", Errs: []error{ErrNotTicket}}
	}
	if !strings.HasPrefix(s, prefix) {
		v, _, _ := strings.Cut(strings.TrimPrefix(s, scheme), ".")
		return nil, &upload.Error{Msg: fmt.Sprintf("this upload ticket has version %q, which this dump cannot read; use a newer dump", v), Errs: []error{ErrNotTicket}}
	}
	t, err := decode(strings.TrimPrefix(s, prefix))
	if err != nil {
		return nil, &upload.Error{Msg: "the upload ticket is damaged (" + err.Error() + "); copy it again in full, or ask support for a new one", Errs: []error{ErrCorrupt}}
	}
	if err := t.check(time.Now()); err != nil {
		return nil, err
	}
	return t, nil
}

func decode(s string) (*Ticket, error) {
	z, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad base64")
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("bad compressed data")
	}
	js, err := io.ReadAll(io.LimitReader(zr, maxJSON+1))
	if err != nil || len(js) > maxJSON {
		return nil, fmt.Errorf("bad compressed data")
	}
	var w wire
	if err := json.Unmarshal(js, &w); err != nil {
		return nil, fmt.Errorf("bad JSON")
	}
	if w.V != version {
		return nil, fmt.Errorf("version %d inside a version %d ticket", w.V, version)
	}
	exp, err := time.Parse(time.RFC3339, w.Expires)
	if err != nil {
		return nil, fmt.Errorf("bad expiry time")
	}
	if w.UUID == "" || strings.ContainsAny(w.UUID, "/ \t\r\n") {
		return nil, fmt.Errorf("bad uuid")
	}
	if w.Node != "" && layout.CheckNodeName(w.Node) != nil {
		return nil, fmt.Errorf("bad node name")
	}
	for _, n := range objectsOf(w.Node)[:2] {
		if _, ok := w.Puts[n]; !ok {
			return nil, fmt.Errorf("no upload URL for %s", n)
		}
	}
	for n, p := range w.Puts {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || p.Method == "" {
			return nil, fmt.Errorf("bad upload request for %s", n)
		}
	}
	return &Ticket{UUID: w.UUID, Node: w.Node, Dest: w.Dest, Expires: exp, Puts: w.Puts}, nil
}

// check fails once the ticket has expired.
func (t *Ticket) check(now time.Time) error {
	if now.Before(t.Expires) {
		return nil
	}
	hint := "dump ticket --to URL"
	if t.Dest != "" {
		hint = "dump ticket --to " + t.Dest
	}
	return &upload.Error{Msg: fmt.Sprintf("this upload ticket expired at %s; ask support for a new one (%s)", t.Expires.Local().Format("2006-01-02 15:04 MST"), hint), Errs: []error{ErrExpired}}
}
