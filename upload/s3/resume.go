package s3

import (
	"context"
	"encoding/base64"
	"hash/crc32"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/dumptool/dump/upload"
)

// putResumable uploads a large source as a multipart upload that outlives a
// failed Put. It is the transfer manager's job done by hand, because the
// transfer manager can neither continue an existing upload id nor read parts
// straight from the source: here parts are sections of the source (no part
// buffers), and a Put that failed (crash, server gone, ^C) leaves its upload
// in place for the next Put of the same name, which reuses every stored part
// whose size and checksum match the source and sends only the rest.
func (s *Store) putResumable(ctx context.Context, key string, src upload.Source) error {
	size := src.Size()
	partSize := partSizeFor(size)
	id, have, err := s.findUpload(ctx, key)
	if err != nil {
		return err
	}
	if id == "" {
		out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket:            aws.String(s.bucket),
			Key:               aws.String(key),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return err
		}
		id = aws.ToString(out.UploadId)
	}

	n := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency)
	for i := range n {
		num := int32(i + 1)
		off := int64(i) * partSize
		length := min(partSize, size-off)
		g.Go(func() error {
			if p, ok := have[num]; ok && aws.ToInt64(p.Size) == length && sameContent(io.NewSectionReader(src, off, length), p) {
				parts[i] = types.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32}
				return nil
			}
			var out *s3.UploadPartOutput
			err := uploadPart(gctx, num, length, func(ctx context.Context) (err error) {
				out, err = s.client.UploadPart(ctx, &s3.UploadPartInput{
					Bucket:            aws.String(s.bucket),
					Key:               aws.String(key),
					UploadId:          aws.String(id),
					PartNumber:        aws.Int32(num),
					Body:              exactSection(src, off, length),
					ContentLength:     aws.Int64(length),
					ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
				})
				return err
			})
			if err != nil {
				return err
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
		MpuObjectSize:   aws.Int64(size),
	})
	return err
}

// partSizeFor keeps within S3's 10000 parts. It depends on size alone, so a
// later Put cuts the file where the interrupted one did.
func partSizeFor(size int64) int64 {
	const maxParts = 10000
	if size/PartSize >= maxParts {
		return size/maxParts + 1
	}
	return PartSize
}

// findUpload returns the newest unfinished multipart upload of key and its
// stored parts, or "" if there is none.
func (s *Store) findUpload(ctx context.Context, key string) (string, map[int32]types.Part, error) {
	var newest *types.MultipartUpload
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(key),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, err
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) == key && (newest == nil || aws.ToTime(u.Initiated).After(aws.ToTime(newest.Initiated))) {
				newest = &u
			}
		}
	}
	if newest == nil {
		return "", nil, nil
	}
	id := aws.ToString(newest.UploadId)
	have := map[int32]types.Part{}
	pp := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(key),
		UploadId: aws.String(id),
	})
	for pp.HasMorePages() {
		page, err := pp.NextPage(ctx)
		if err != nil {
			return "", nil, err
		}
		// Only uploads made like ours have CRC32s to compare parts by.
		// (MinIO says so in ListParts, not in ListMultipartUploads.)
		if page.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 {
			return "", nil, nil
		}
		for _, part := range page.Parts {
			have[aws.ToInt32(part.PartNumber)] = part
		}
	}
	return id, have, nil
}

// sameContent reports whether a stored part holds exactly the bytes of r,
// by its CRC32.
func sameContent(r io.Reader, p types.Part) bool {
	want := aws.ToString(p.ChecksumCRC32)
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, r); err != nil || want == "" {
		return false
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) == want // big-endian, as S3 sends it
}
