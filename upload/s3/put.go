package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/dumptool/dump/upload"
)

// Put uploads src into name. Objects up to PartSize go up in one PutObject,
// larger ones as a multipart upload of PartSize parts, Concurrency at a time,
// read straight from src (no part buffers) by putResumable, which continues
// an upload an earlier Put left unfinished.
//
// Every write carries If-None-Match: *, so an existing object is never
// replaced (ErrExists). For multipart the server checks it only on
// completion, so Put also looks first and refuses a taken name before sending
// any data. A multipart upload shows nothing under name until it is complete;
// a failed one is kept to be resumed.
//
// When the SDK retries a request whose first answer was lost, the server may
// already hold our object and refuse the retry (412, or NoSuchUpload for a
// completed multipart upload). The object was absent when Put looked, so one
// of the same size now is taken as ours: names are per-dump uuids, nobody else
// writes them.
//
// Unfinished uploads nobody resumes are removed by the next successful Put of
// the same name (see abortStale) or by the bucket's
// AbortIncompleteMultipartUpload lifecycle rule.
func (s *Store) Put(ctx context.Context, name string, src upload.Source) error {
	key, size := s.key(name), src.Size()
	if err := s.absent(ctx, name, key); err != nil {
		return err
	}
	var err error
	if size > PartSize {
		err = s.putResumable(ctx, key, src)
	} else {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(key),
			Body:          exactSection(src, 0, size),
			ContentLength: aws.Int64(size),
			IfNoneMatch:   aws.String("*"),
		})
	}
	if err != nil && refusedAsDone(err) {
		if out, herr := s.head(ctx, key); herr == nil && aws.ToInt64(out.ContentLength) == size {
			err = nil
		}
	}
	if err != nil {
		return s.fail("put", name, err)
	}
	if size > PartSize {
		s.abortStale(ctx, key)
	}
	return nil
}

// absent looks before an upload: ErrExists if key is taken. Write-only
// credentials may not look; and a HEAD answer has no body to say why it was
// refused, so a refused look is left for the upload's answer to explain.
func (s *Store) absent(ctx context.Context, name, key string) error {
	_, err := s.head(ctx, key)
	switch {
	case err == nil:
		return &upload.Error{Msg: fmt.Sprintf("%s: put %s: object already exists", s, name), Errs: []error{upload.ErrExists}}
	case forbidden(err):
		return nil
	}
	if _, kind := s.explain(err); kind != upload.ErrNotExist {
		return s.fail("put", name, err)
	}
	return nil
}

func forbidden(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "Forbidden" || ae.ErrorCode() == "AccessDenied")
}

// refusedAsDone reports the answers a repeated request gets when its first
// attempt already stored the object.
func refusedAsDone(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "PreconditionFailed", "ConditionalRequestConflict", "NoSuchUpload":
		return true
	}
	return false
}

// abortStale aborts unfinished multipart uploads of key left by an earlier,
// interrupted Put. Once key exists they can never complete (If-None-Match), so
// they only cost storage. Best effort: a failure here does not fail the Put.
func (s *Store) abortStale(ctx context.Context, key string) {
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(key)})
	if err != nil {
		return
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) != key {
			continue
		}
		s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId})
	}
}

// exactSection reads length bytes of src from off, as a body the SDK can
// rewind (it reads once to sign, once to send). It fails when src ends
// early, so a truncated source never completes as a shorter object.
func exactSection(src io.ReaderAt, off, length int64) io.ReadSeeker {
	return &exactReader{io.NewSectionReader(src, off, length)}
}

type exactReader struct{ *io.SectionReader }

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.SectionReader.Read(p)
	if err == io.EOF {
		if pos, _ := e.Seek(0, io.SeekCurrent); pos < e.Size() {
			// Not io.ErrUnexpectedEOF: a short local file is no network
			// error, and retrying will not make it longer.
			return n, fmt.Errorf("source ended after %d of %d bytes", pos, e.Size())
		}
	}
	return n, err
}
