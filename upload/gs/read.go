package gs

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/dumptool/dump/upload"
)

func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return s.GetRange(ctx, name, 0, -1)
}

// GetRange reads length bytes from offset; a negative length reads to the end.
func (s *Store) GetRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	ctx, _ = traceRequests(ctx)
	r, err := s.object(key, nil).NewRangeReader(ctx, offset, length)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return r, nil
}

func (s *Store) Stat(ctx context.Context, name string) (upload.ObjectInfo, error) {
	key, err := s.key(name)
	if err != nil {
		return upload.ObjectInfo{}, err
	}
	ctx, _ = traceRequests(ctx)
	a, err := s.object(key, nil).Attrs(ctx)
	if err != nil {
		return upload.ObjectInfo{}, s.fail("stat", key, err)
	}
	return upload.ObjectInfo{Name: name, Size: a.Size, Modified: a.Updated.UTC()}, nil
}

func (s *Store) List(ctx context.Context, prefix string) ([]upload.ObjectInfo, error) {
	q := &storage.Query{Prefix: s.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return nil, err
	}
	ctx, _ = traceRequests(ctx)
	var out []upload.ObjectInfo
	it := s.bucket.Retryer(retry(storage.ShouldRetry)...).Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, s.fail("list", s.prefix+prefix, err)
		}
		out = append(out, upload.ObjectInfo{
			Name:     strings.TrimPrefix(a.Name, s.prefix),
			Size:     a.Size,
			Modified: a.Updated.UTC(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
