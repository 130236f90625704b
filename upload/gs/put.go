package gs

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"sync/atomic"

	"cloud.google.com/go/storage"

	"github.com/dumptool/dump/internal/tracing"
	"github.com/dumptool/dump/upload"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minChunk is the granularity of resumable-upload chunks.
const minChunk = 256 << 10

// Put uploads src as a new object. The does-not-exist
// precondition makes the server refuse an existing name (upload.ErrExists)
// and makes every retry of the upload safe.
//
// The library computes the CRC32C of the stream and sends it with the last
// request, so the server rejects corrupted data before the object exists.
// (Writer.SendCRC32C cannot be used while streaming: it sends the checksum
// when the upload starts, before the data is read.) Put also compares its own
// CRC32C with the one the server reports for the new object, and deletes
// that object if they differ, for servers that do not check.
//
// One case reads as ErrExists although the object is ours: a single-request
// upload (smaller than a chunk) whose response was lost and whose resend
// then meets the precondition. upload.PutDump then finds the object with the
// expected size and takes it as done.
func (s *Store) Put(ctx context.Context, name string, src upload.Source) error {
	return s.put(ctx, name, upload.NewReader(ctx, src), src.Size())
}

var _ upload.Streamer = (*Store)(nil)

// PutStream uploads r, of a size known only at its end, as Put does. Unlike
// a Put, which package retry wraps in a span, the stream is a span of its
// own, as in package s3.
func (s *Store) PutStream(ctx context.Context, name string, r io.Reader) (err error) {
	ctx, span := tracing.StartSpan(ctx, "put stream "+name)
	defer func() { tracing.End(span, err) }()
	return s.put(ctx, name, upload.ContextReader(ctx, r), -1)
}

// put uploads r; size is checked unless it is -1.
func (s *Store) put(ctx context.Context, name string, r io.Reader, size int64) (err error) {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	wctx, spans := traceRequests(ctx)
	defer func() { spans.end(err) }()
	// Cancelling the writer's context abandons the resumable session: the
	// object is created only when the last chunk is accepted.
	wctx, cancel := context.WithCancel(wctx)
	defer cancel()
	// Uploads retry each request until a deadline of their own, not
	// WithMaxAttempts; count the failures in a row, reset when a chunk is
	// accepted, to bound them the same way.
	var failures atomic.Int32
	shouldRetry := func(err error) bool {
		return storage.ShouldRetry(err) && failures.Add(1) < maxAttempts
	}
	obj := s.object(key, shouldRetry).If(storage.Conditions{DoesNotExist: true})
	w := obj.NewWriter(wctx)
	w.ContentType = "application/octet-stream"
	w.ChunkSize = s.chunkSize(size)
	w.ProgressFunc = func(int64) { failures.Store(0) }

	crc := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(w, crc), r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d bytes, expected %d", n, size)
	}
	if err != nil {
		cancel()
		w.Close()
		return s.fail("put", key, err)
	}
	if err := w.Close(); err != nil {
		return s.fail("put", key, err)
	}
	attrs := w.Attrs()
	if attrs.CRC32C != crc.Sum32() {
		// The precondition makes sure only the generation just written goes.
		del := s.object(key, nil).If(storage.Conditions{GenerationMatch: attrs.Generation}).Delete(ctx)
		err := fmt.Errorf("the stored object's CRC32C %08x differs from the data sent (%08x): corrupted in transit", attrs.CRC32C, crc.Sum32())
		if del != nil {
			err = fmt.Errorf("%w; removing it failed too: %v", err, del)
		}
		return s.fail("put", key, err)
	}
	return nil
}

// chunkSize keeps small objects from allocating a whole chunk buffer.
func (s *Store) chunkSize(size int64) int {
	c := s.ChunkSize
	if c <= 0 {
		c = DefaultChunkSize
	}
	// One byte more than the object lets the writer see the end of the data
	// in the first chunk and send it in a single request.
	if need := (size + 1 + minChunk - 1) / minChunk * minChunk; size >= 0 && need < int64(c) {
		c = int(need)
	}
	return c
}
