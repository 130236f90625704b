package s3

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dumptool/dump/upload"
)

// Get streams an object; the SDK checks its checksum when the server stored a
// full-object one (single-part uploads).
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(name)),
	})
	if err != nil {
		return nil, s.fail("get", name, err)
	}
	return out.Body, nil
}

// GetRange streams length bytes of an object from offset.
func (s *Store) GetRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length <= 0 {
		return nil, fmt.Errorf("get %s: invalid range %d+%d", name, offset, length)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(name)),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)),
	})
	if err != nil {
		return nil, s.fail("get", name, err)
	}
	return out.Body, nil
}

func (s *Store) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	out, err := s.head(ctx, s.key(name))
	if err != nil {
		return upload.ObjectInfo{}, s.fail("stat", name, err)
	}
	return upload.ObjectInfo{
		Name:     name,
		Size:     aws.ToInt64(out.ContentLength),
		Modified: aws.ToTime(out.LastModified).UTC(),
	}, nil
}

func (s *Store) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	root := s.key("")
	var objs []upload.ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(root + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.fail("list", prefix, err)
		}
		for _, o := range page.Contents {
			name, ok := strings.CutPrefix(aws.ToString(o.Key), root)
			if !ok || name == "" {
				continue
			}
			objs = append(objs, upload.ObjectInfo{
				Name:     name,
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified).UTC(),
			})
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	return objs, nil
}

func (s *Store) head(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	return s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
}
