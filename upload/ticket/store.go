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
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// maxRetries bounds the resends of one object after a 5xx, 429 or a broken
// connection.
const maxRetries = 6

// Store returns an upload.Store that can only put the objects of t's dump,
// with client (http.DefaultClient if nil) and no credentials.
//
// Stat always reports ErrNotExist, so upload.PutDump just puts every part.
// Each signed request refuses to replace an object (412), which Put reads
// as follows. The payload or key already there means an earlier attempt
// with this ticket stored it, and re-running the upload of the same sealed
// files continues with the next part. info.json already there means the dump
// was completely uploaded and the ticket is used up: ErrExists, "ask support
// for a new ticket". A ticket cannot read, so it cannot tell that a part
// left by an earlier attempt came from other sealed files; a new dump needs
// a new ticket (decrypt's check of the payload's sha256 would catch the mix).
func (t *Ticket) Store(client *http.Client) upload.Store {
	if client == nil {
		client = http.DefaultClient
	}
	return &store{t: t, client: client}
}

type store struct {
	t      *Ticket
	client *http.Client
}

func (s *store) String() string {
	if s.t.Dest == "" {
		return "ticket for dump " + s.t.UUID
	}
	return "ticket for " + strings.TrimSuffix(s.t.Dest, "/") + "/" + s.t.UUID
}

func (s *store) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	return upload.ObjectInfo{}, &ticketError{"stat " + name + ": an upload ticket cannot look into the bucket", upload.ErrNotExist}
}

func (s *store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return nil, s.uploadOnly("get " + name)
}

func (s *store) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	return nil, s.uploadOnly("list")
}

func (s *store) uploadOnly(op string) error {
	return &ticketError{op + ": an upload ticket can only upload; support reads the dump with the bucket's own credentials", ErrUploadOnly}
}

// Put sends the signed request for name with size bytes from r. It resends
// after a 5xx, 429 or a broken connection only when r is an io.Seeker, since
// the body must be read again.
func (s *store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if size < 0 {
		return fmt.Errorf("upload %s: a ticket needs the size in advance", name)
	}
	dir, base := path.Split(name)
	p, ok := s.t.Puts[base]
	if !ok || dir != s.t.UUID+"/" {
		return fmt.Errorf("upload %s: this ticket uploads only the dump %s", name, s.t.UUID)
	}
	seeker, _ := r.(io.Seeker)
	var start int64
	if seeker != nil {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil // a pipe or the like: no resends
		}
	}
	var b backoff.BackOff = backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(500*time.Millisecond),
		backoff.WithMaxInterval(15*time.Second),
		backoff.WithMaxElapsedTime(0))
	b = backoff.WithContext(backoff.WithMaxRetries(b, maxRetries), ctx)

	attempt := 0
	return backoff.RetryNotify(func() error {
		attempt++
		if err := s.t.check(time.Now()); err != nil {
			return backoff.Permanent(err)
		}
		if attempt > 1 {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return backoff.Permanent(fmt.Errorf("upload %s: rewind: %w", name, err))
			}
		}
		err := s.send(ctx, p, name, r, size, attempt > 1)
		var re *retryable
		if errors.As(err, &re) && seeker != nil {
			return err
		}
		return backoff.Permanent(err)
	}, b, func(err error, wait time.Duration) {
		slog.Warn("upload with ticket: retrying", "object", name, "in", wait.Round(time.Millisecond), "err", err)
	})
}

// retryable marks a failure worth resending for.
type retryable struct{ error }

func (r *retryable) Unwrap() error { return r.error }

// send makes one attempt. resent says an earlier attempt may have reached the
// server.
func (s *store) send(ctx context.Context, p upload.PresignedPut, name string, r io.Reader, size int64, resent bool) error {
	body := &bodyReader{r: io.LimitReader(r, size), want: size}
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
		return &ticketError{fmt.Sprintf("upload %s: the server says this upload ticket expired (%s); ask support for a new one", name, msg), ErrExpired}
	default:
		return fmt.Errorf("upload %s with the ticket: %s: %s", name, resp.Status, msg)
	}
}

// exists reads a 412 for name: see Store.
func (s *store) exists(name string, resent bool) error {
	if resent || path.Base(name) != layout.InfoObject {
		slog.Info("upload with ticket: already stored by an earlier attempt, continuing", "object", name)
		return nil
	}
	return &ticketError{fmt.Sprintf("this ticket was already used: the dump %s is already uploaded; ask support for a new ticket", s.t.UUID), upload.ErrExists}
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
