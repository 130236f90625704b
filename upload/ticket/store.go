package ticket

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// Store returns an upload.Store that can only put the objects of t's dump,
// with client (http.DefaultClient if nil) and no credentials. It makes one
// attempt per call and calls 5xx, 429 and broken connections temporary;
// package retry (through stores.Ticket) repeats them.
//
// Stat always reports ErrNotExist, so upload.PutDump just puts every part.
// Each signed request refuses to replace an object (412), which Put reads
// as follows. The payload or key already there means an earlier attempt
// with this ticket stored it, and re-running the upload of the same sealed
// files continues with the next part. info.json already there means the dump
// was completely uploaded and the ticket is used up: ErrExists, "ask support
// for a new ticket", unless this store's last attempt at it ended without
// an answer (a repeated attempt whose first answer was lost). A ticket cannot read, so it cannot tell that
// a part left by an earlier attempt came from other sealed files; a new dump
// needs a new ticket (decrypt's check of the payload's sha256 would catch the
// mix).
func (t *Ticket) Store(client *http.Client) upload.Store {
	if client == nil {
		client = http.DefaultClient
	}
	return &store{t: t, client: client, unknown: map[string]bool{}}
}

type store struct {
	t      *Ticket
	client *http.Client

	mu      sync.Mutex
	unknown map[string]bool // names whose last attempt ended without an answer
}

func (s *store) String() string {
	if s.t.Dest == "" {
		return "ticket for dump " + s.t.UUID
	}
	return "ticket for " + strings.TrimSuffix(s.t.Dest, "/") + "/" + s.t.UUID
}

func (s *store) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	return upload.ObjectInfo{}, &upload.Error{Msg: "stat " + name + ": an upload ticket cannot look into the bucket", Errs: []error{upload.ErrNotExist}}
}

func (s *store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return nil, s.uploadOnly("get " + name)
}

func (s *store) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	return nil, s.uploadOnly("list")
}

func (s *store) uploadOnly(op string) error {
	return &upload.Error{Msg: op + ": an upload ticket can only upload; support reads the dump with the bucket's own credentials", Errs: []error{ErrUploadOnly}}
}

func (s *store) IsTemporary(err error) bool {
	var re *retryable
	return errors.As(err, &re)
}

// Put sends the signed request for name with the bytes of src.
func (s *store) Put(ctx context.Context, name string, src upload.Source) error {
	rel, inDump := strings.CutPrefix(name, s.t.UUID+"/")
	p, ok := s.t.Puts[rel]
	if !ok || !inDump {
		return fmt.Errorf("upload %s: this ticket uploads only the dump %s", name, s.t.UUID)
	}
	if err := s.t.check(time.Now()); err != nil {
		return err
	}
	s.mu.Lock()
	resent := s.unknown[name]
	s.mu.Unlock()
	err := s.send(ctx, p, name, src, resent)
	s.mu.Lock()
	s.unknown[name] = s.IsTemporary(err)
	s.mu.Unlock()
	return err
}

// retryable marks a failure worth resending for.
type retryable struct{ error }

func (r *retryable) Unwrap() error { return r.error }

// send makes one attempt. resent says an earlier attempt may have reached the
// server.
func (s *store) send(ctx context.Context, p upload.PresignedPut, name string, src upload.Source, resent bool) error {
	size := src.Size()
	body := &bodyReader{r: upload.NewReader(ctx, src), want: size}
	req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, body)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header = p.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if body.err != nil {
			return fmt.Errorf("upload %s: %w", name, body.err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("upload %s: %w", name, ctx.Err())
		}
		// The URL holds the signature: keep it out of messages and logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &retryable{fmt.Errorf("upload %s: cannot reach %s: %w", name, req.URL.Host, err)}
	}
	defer resp.Body.Close()
	msg := readError(resp)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusPreconditionFailed:
		return s.exists(name, resent)
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return &retryable{fmt.Errorf("upload %s: %s: %s", name, resp.Status, msg)}
	case (code == http.StatusBadRequest || code == http.StatusForbidden) && strings.Contains(strings.ToLower(msg), "expired"):
		// The clocks may disagree with the ticket's own expiry time.
		return &upload.Error{Msg: fmt.Sprintf("upload %s: the server says this upload ticket expired (%s); ask support for a new one", name, msg), Errs: []error{ErrExpired}}
	default:
		return fmt.Errorf("upload %s with the ticket: %s: %s", name, resp.Status, msg)
	}
}

// exists reads a 412 for name: see Store.
func (s *store) exists(name string, resent bool) error {
	if resent || (path.Base(name) != layout.InfoObject && name != layout.Object(s.t.UUID, layout.NodeInfoObject(s.t.Node))) {
		slog.Info("upload with ticket: already stored by an earlier attempt, continuing", "object", name)
		return nil
	}
	return &upload.Error{Msg: fmt.Sprintf("this ticket was already used: the dump %s is already uploaded; ask support for a new ticket", s.t.UUID), Errs: []error{upload.ErrExists}}
}

// readError sums up an error response in one line: S3 and GCS send XML with
// a code and a message.
func readError(resp *http.Response) string {
	if resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // lets the connection be reused
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	var x struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		Details string `xml:"Details"`
	}
	if xml.Unmarshal(data, &x) == nil && x.Code != "" {
		msg := x.Code
		for _, s := range []string{x.Message, x.Details} {
			if s != "" {
				msg += ": " + s
			}
		}
		return oneLine(msg)
	}
	return oneLine(string(data))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// bodyReader keeps the source's own failures (an error, or fewer bytes than
// promised) apart from network errors, and hides Close: the caller owns r.
type bodyReader struct {
	r         io.Reader
	want, got int64
	err       error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.got += int64(n)
	switch {
	case err == io.EOF && b.got < b.want:
		b.err = fmt.Errorf("read %d bytes, expected %d", b.got, b.want)
	case err != nil && err != io.EOF:
		b.err = err
	}
	return n, err
}
