package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/dumptool/dump/internal/tracing"
	"github.com/dumptool/dump/upload"
)

var _ upload.Streamer = (*Store)(nil)

// PutStream uploads r into name while r is still being written (a payload
// being sealed), as a multipart upload: parts of PartSize are read into
// buffers and go up Concurrency at a time, each with its CRC32, so memory
// stays at (Concurrency+1)*PartSize whatever the size. The object appears
// when r ends and the upload completes.
//
// When a part cannot be stored, the upload is kept: a later Put of the same
// bytes from the local file cuts the same parts and reuses every one already
// stored (see putResumable). When r fails (the seal failed), the upload is
// aborted and nothing is kept.
func (s *Store) PutStream(ctx context.Context, name string, r io.Reader) (err error) {
	ctx, span := tracing.StartSpan(ctx, "put stream "+name)
	defer func() { tracing.End(span, err) }()
	key := s.key(name)
	if err := s.absent(ctx, name, key); err != nil {
		return err
	}
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return s.fail("put", name, err)
	}
	id := out.UploadId
	size, parts, err := s.streamParts(ctx, key, id, r)
	var srcErr *sourceError
	if errors.As(err, &srcErr) {
		s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: id})
		return fmt.Errorf("%s: put %s: %w", s, name, srcErr.err)
	}
	if err == nil {
		_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(key),
			UploadId:        id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			IfNoneMatch:     aws.String("*"),
			MpuObjectSize:   aws.Int64(size),
		})
		if err != nil && refusedAsDone(err) {
			if out, herr := s.head(ctx, key); herr == nil && aws.ToInt64(out.ContentLength) == size {
				err = nil
			}
		}
	}
	if err != nil {
		return s.fail("put", name, err)
	}
	return nil
}

// sourceError is a failure to read the stream, not to store it.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }

// streamParts reads r part by part and uploads the parts; it returns the
// size read and the completed parts in order.
func (s *Store) streamParts(ctx context.Context, key string, id *string, r io.Reader) (int64, []types.CompletedPart, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency)
	free := make(chan []byte, Concurrency+1)
	for range Concurrency + 1 {
		free <- nil
	}
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		size  int64
	)
	for num := int32(1); ; num++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-gctx.Done():
			return size, nil, g.Wait()
		}
		if buf == nil {
			buf = make([]byte, PartSize)
		}
		n, err := io.ReadFull(r, buf)
		if err == io.EOF && num > 1 {
			break
		}
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			g.Wait()
			return size, nil, &sourceError{err}
		}
		size += int64(n)
		mu.Lock()
		parts = append(parts, types.CompletedPart{})
		mu.Unlock()
		g.Go(func() error {
			defer func() { free <- buf }()
			var out *s3.UploadPartOutput
			err := uploadPart(gctx, num, int64(n), func(ctx context.Context) (err error) {
				out, err = s.client.UploadPart(ctx, &s3.UploadPartInput{
					Bucket:            aws.String(s.bucket),
					Key:               aws.String(key),
					UploadId:          id,
					PartNumber:        aws.Int32(num),
					Body:              bytes.NewReader(buf[:n]),
					ContentLength:     aws.Int64(int64(n)),
					ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
				})
				return err
			})
			if err != nil {
				return err
			}
			mu.Lock()
			parts[num-1] = types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			mu.Unlock()
			return nil
		})
		if err != nil { // the last, short part
			break
		}
	}
	return size, parts, g.Wait()
}
