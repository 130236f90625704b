package decrypt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/dumptool/dump/upload"
)

// Download defaults: Concurrency ranges of chunkSize in flight bound memory
// to about 32 MiB.
const (
	DefaultConcurrency = 4
	defaultChunkSize   = 8 << 20
)

// ErrChecksum is wrapped when the downloaded payload does not match the
// size or sha256 recorded in its info.
var ErrChecksum = errors.New("the payload does not match its info")

// rangedReader downloads an object as consecutive ranges, several at once,
// and delivers them in order. A chunk buffer is a token: at most
// len(tokens) chunks are being fetched or waiting to be read.
type rangedReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	order  chan chan chunk // one per range, in object order
	tokens chan []byte     // free chunk buffers (nil: not allocated yet)

	buf []byte // the chunk being read, returned to tokens when done
	cur []byte // its unread part
	err error
}

type chunk struct {
	buf []byte
	err error
}

func newRangedReader(ctx context.Context, rr upload.RangeReader, name string, size, chunkSize int64, concurrency int) *rangedReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &rangedReader{
		ctx:    ctx,
		cancel: cancel,
		order:  make(chan chan chunk, concurrency),
		tokens: make(chan []byte, concurrency),
	}
	for range concurrency {
		r.tokens <- nil
	}
	r.wg.Add(1)
	go r.produce(rr, name, size, chunkSize)
	return r
}

// produce starts one fetch per range as buffers become free.
func (r *rangedReader) produce(rr upload.RangeReader, name string, size, chunkSize int64) {
	defer r.wg.Done()
	defer close(r.order)
	for off := int64(0); off < size; off += chunkSize {
		var buf []byte
		select {
		case buf = <-r.tokens:
		case <-r.ctx.Done():
			return
		}
		n := min(chunkSize, size-off)
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		res := make(chan chunk, 1)
		r.order <- res // never blocks: there are as many slots as tokens
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			res <- chunk{buf, fetchRange(r.ctx, rr, name, off, buf)}
		}()
	}
}

func fetchRange(ctx context.Context, rr upload.RangeReader, name string, off int64, buf []byte) error {
	rc, err := rr.GetRange(ctx, name, off, int64(len(buf)))
	if err != nil {
		return fmt.Errorf("download %s at %d: %w", name, off, err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			err = errors.New("the object is shorter than expected")
		}
		return fmt.Errorf("download %s at %d: %w", name, off, err)
	}
	return nil
}

func (r *rangedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for len(r.cur) == 0 {
		if r.buf != nil {
			r.tokens <- r.buf
			r.buf = nil
		}
		res, ok := <-r.order
		if !ok {
			// The producer also stops early when cancelled.
			r.err = r.ctx.Err()
			if r.err == nil {
				r.err = io.EOF
			}
			return 0, r.err
		}
		c := <-res
		if c.err != nil {
			r.err = c.err
			return 0, r.err
		}
		r.buf, r.cur = c.buf, c.buf
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops the fetches and waits for them.
func (r *rangedReader) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}

// verifyReader checks a stream against the size and sha256 of its info. At
// the end it returns an error instead of io.EOF if they differ, so nothing
// reading through it can take a wrong payload for a complete one.
type verifyReader struct {
	r       io.Reader
	h       hash.Hash
	n, size int64
	wantSum string
	err     error // first error, from the source or the check
}

func newVerifyReader(r io.Reader, size int64, sum string) *verifyReader {
	return &verifyReader{r: r, h: sha256.New(), size: size, wantSum: sum}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.n > v.size:
		v.err = fmt.Errorf("%w: it is longer than the %d bytes recorded; download it again, and if it persists ask the customer to upload it again", ErrChecksum, v.size)
	case err == io.EOF && v.n < v.size:
		v.err = fmt.Errorf("%w: it ends after %d of %d bytes (truncated); download it again", ErrChecksum, v.n, v.size)
	case err == io.EOF:
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.wantSum {
			v.err = fmt.Errorf("%w: its sha256 is %s, not %s: it was corrupted or tampered with; download it again, and if it persists ask the customer to upload it again", ErrChecksum, got, v.wantSum)
		}
	case err != nil:
		v.err = err
	}
	if v.err != nil {
		return n, v.err
	}
	return n, err
}
