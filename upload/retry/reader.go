package retry

import (
	"context"
	"fmt"
	"io"

	"github.com/dumptool/dump/upload"
)

// maxStalls is how many times in a row a download may break off without
// delivering a byte before it fails.
const maxStalls = 5

// resumingReader continues a download that broke off half way: on a
// transient read error it opens the rest of the object with GetRange (itself
// retried) and reads on from there. Objects are immutable, so the rest is the
// rest of the same bytes.
type resumingReader struct {
	ctx    context.Context
	s      *store
	rr     upload.RangeReader
	name   string
	rc     io.ReadCloser // nil after a break, until reopened
	off    int64         // offset of the next byte
	end    int64         // end of the wanted bytes; -1 until known
	stalls int
}

func (r *resumingReader) Read(p []byte) (int, error) {
	if r.rc == nil {
		if err := r.reopen(); err != nil {
			return 0, err
		}
		if r.rc == nil {
			return 0, io.EOF
		}
	}
	n, err := r.rc.Read(p)
	r.off += int64(n)
	if n > 0 {
		r.stalls = 0
	}
	if err == nil || err == io.EOF || r.ctx.Err() != nil || !r.s.temporary(err) {
		return n, err
	}
	r.stalls++
	if r.stalls > maxStalls {
		return n, fmt.Errorf("get %s: broke off %d times in a row at byte %d: %w", r.name, r.stalls, r.off, err)
	}
	if r.s.opts.Notify != nil {
		r.s.opts.Notify(fmt.Sprintf("get %s (resuming at byte %d)", r.name, r.off), err, 0)
	}
	r.rc.Close()
	r.rc = nil
	return n, nil
}

// reopen opens the bytes from r.off on; it leaves r.rc nil when none remain.
func (r *resumingReader) reopen() error {
	if r.end < 0 {
		fi, err := r.s.Stat(r.ctx, r.name)
		if err != nil {
			return err
		}
		r.end = fi.Size
	}
	if r.off >= r.end {
		return nil
	}
	rc, err := rangeReader{r.s, r.rr}.open(r.ctx, r.name, r.off, r.end-r.off)
	if err != nil {
		return err
	}
	r.rc = rc
	return nil
}

func (r *resumingReader) Close() error {
	if r.rc == nil {
		return nil
	}
	return r.rc.Close()
}
