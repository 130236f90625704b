package s3

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dumptool/dump/upload"
)

// MaxPresignExpiry is the longest validity SigV4 allows for a presigned URL.
const MaxPresignExpiry = 7 * 24 * time.Hour

// PresignPut returns a PUT request for name that anyone may send until it
// expires. If-None-Match: * is one of the signed headers, so the request must
// carry it and the server refuses it (412) once name exists: a ticket cannot
// replace an object, not even its own.
func (s *Store) PresignPut(ctx context.Context, name string, expires time.Duration) (upload.PresignedPut, error) {
	if expires <= 0 || expires > MaxPresignExpiry {
		return upload.PresignedPut{}, fmt.Errorf("presign %s: expiry %v must be between 1s and %v (the S3 limit)", name, expires, MaxPresignExpiry)
	}
	req, err := s3.NewPresignClient(s.client).PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.key(name)),
		IfNoneMatch: aws.String("*"),
	}, s3.WithPresignExpires(expires))
	if err != nil {
		return upload.PresignedPut{}, s.fail("presign", name, err)
	}
	h := http.Header{}
	for k, v := range req.SignedHeader {
		// Go's HTTP client sets Host from the URL itself.
		if http.CanonicalHeaderKey(k) != "Host" {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	return upload.PresignedPut{Method: req.Method, URL: req.URL, Header: h}, nil
}
